package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"etcd-dr/engine/internal/pluginkit"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/retry"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// The schema defaults of upstream's Connection and ProxyConnection.
const (
	defaultUser           = "root"
	defaultPort           = 22
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
	unlimitedDialErrors   = -1
)

// connection mirrors upstream's Connection: pointers where upstream tells "absent" from "empty",
// because an empty privateKey or password is still used (and fails) upstream.
type connection struct {
	host               string
	port               int
	user               string
	password           *string
	privateKey         *string
	privateKeyPassword *string
	agentSocketPath    *string
	hostKey            *string
	dialErrorLimit     int
	perDialTimeout     int
	proxy              *connection
}

// connectionDefaults fills in what upstream's schema defaults fill in, keeping secrets and unknowns.
func connectionDefaults(v resource.PropertyValue) resource.PropertyValue {
	secret := v.IsSecret()
	inner := pluginkit.Unwrap(v)
	if !inner.IsObject() {
		return v
	}
	props := inner.ObjectValue().Copy()
	defaults := resource.PropertyMap{
		"user":           resource.NewStringProperty(defaultUser),
		"port":           resource.NewNumberProperty(defaultPort),
		"dialErrorLimit": resource.NewNumberProperty(defaultDialErrorLimit),
		"perDialTimeout": resource.NewNumberProperty(defaultPerDialTimeout),
	}
	for k, d := range defaults {
		if cur, has := props[k]; !has || cur.IsNull() {
			props[k] = d
		}
	}
	if proxy, has := props["proxy"]; has && !pluginkit.Unwrap(proxy).IsNull() {
		props["proxy"] = connectionDefaults(proxy)
	}
	out := resource.NewObjectProperty(props)
	if secret {
		out = resource.MakeSecret(out)
	}
	return out
}

func parseConnection(v resource.PropertyValue) (*connection, error) {
	v = pluginkit.Unwrap(v)
	if !v.IsObject() {
		return nil, fmt.Errorf("connection must be an object with at least a host")
	}
	props := v.ObjectValue()
	host, ok := pluginkit.String(props, "host")
	if !ok {
		return nil, fmt.Errorf("connection.host is required")
	}
	c := &connection{
		host:               host,
		port:               int(pluginkit.Number(props, "port", defaultPort)),
		user:               defaultUser,
		password:           pluginkit.OptionalString(props, "password"),
		privateKey:         pluginkit.OptionalString(props, "privateKey"),
		privateKeyPassword: pluginkit.OptionalString(props, "privateKeyPassword"),
		agentSocketPath:    pluginkit.OptionalString(props, "agentSocketPath"),
		hostKey:            pluginkit.OptionalString(props, "hostKey"),
		dialErrorLimit:     int(pluginkit.Number(props, "dialErrorLimit", defaultDialErrorLimit)),
		perDialTimeout:     int(pluginkit.Number(props, "perDialTimeout", defaultPerDialTimeout)),
	}
	if user, ok := pluginkit.String(props, "user"); ok {
		c.user = user
	}
	if proxy, has := props["proxy"]; has && !pluginkit.Unwrap(proxy).IsNull() {
		p, err := parseConnection(proxy)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		c.proxy = p
	}
	return c, nil
}

func (c *connection) address() string {
	return net.JoinHostPort(c.host, fmt.Sprint(c.port))
}

// sshConfig follows upstream's SSHConfig: a pinned host key also pins the host key algorithm to
// the key's type; the private key, then the password (also for keyboard-interactive), then the
// agent at agentSocketPath or $SSH_AUTH_SOCK. An agent socket that cannot be dialed is an error,
// before any dial to the host: a stale SSH_AUTH_SOCK fails every command.
func (c *connection) sshConfig() (*ssh.ClientConfig, error) {
	config := &ssh.ClientConfig{
		User:            c.user,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // upstream ignores host keys unless hostKey is set
		Timeout:         time.Duration(c.perDialTimeout) * time.Second,
	}
	if c.hostKey != nil {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.hostKey))
		if err != nil {
			return nil, fmt.Errorf("failed to parse host key: %w", err)
		}
		config.HostKeyCallback = ssh.FixedHostKey(key)
		config.HostKeyAlgorithms = []string{key.Type()}
	}
	if c.privateKey != nil {
		var signer ssh.Signer
		var err error
		if c.privateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.privateKey), []byte(*c.privateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.privateKey))
		}
		if err != nil {
			return nil, err
		}
		config.Auth = append(config.Auth, ssh.PublicKeys(signer))
	}
	if c.password != nil {
		password := *c.password
		config.Auth = append(config.Auth, ssh.Password(password), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			}))
	}
	socket := c.agentSocketPath
	if socket == nil {
		if env := os.Getenv("SSH_AUTH_SOCK"); env != "" {
			socket = &env
		}
	}
	if socket != nil {
		conn, err := net.Dial("unix", *socket)
		if err != nil {
			return nil, err
		}
		config.Auth = append(config.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	return config, nil
}

// dialWithRetry is upstream's retry: pulumi's retry.Until backoff (100 ms, x1.5, at most 5 s
// between attempts), dialErrorLimit failures allowed before the last attempt (so limit+1 attempts;
// -1 is unlimited), a status line per failure, and "after N failed attempts: <last error>".
func dialWithRetry[T any](ctx context.Context, log *pluginkit.Logger, msg string, limit int, dial func() (T, error)) (T, error) {
	var last error
	ok, data, err := retry.Until(ctx, retry.Acceptor{
		Accept: func(try int, _ time.Duration) (bool, any, error) {
			var result T
			result, last = dial()
			if last == nil {
				return true, result, nil
			}
			dials := try + 1
			if limit > unlimitedDialErrors && dials > limit {
				return true, nil, fmt.Errorf("after %d failed attempts: %w", try, last)
			}
			shown := "inf"
			if limit != unlimitedDialErrors {
				shown = fmt.Sprint(limit)
			}
			log.InfoStatus(fmt.Sprintf("%s %d/%s failed: retrying", msg, dials, shown))
			return false, nil, nil
		},
	})
	if ok && err == nil {
		return data.(T), nil
	}
	var zero T
	if err == nil {
		err = ctx.Err()
	}
	return zero, err
}

func (c *connection) dial(ctx context.Context, log *pluginkit.Logger) (*ssh.Client, error) {
	config, err := c.sshConfig()
	if err != nil {
		return nil, err
	}
	if c.proxy == nil {
		return dialWithRetry(ctx, log, "Dial", c.dialErrorLimit, func() (*ssh.Client, error) {
			return ssh.Dial("tcp", c.address(), config)
		})
	}
	proxyConfig, err := c.proxy.sshConfig()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	jump, err := dialWithRetry(ctx, log, "Dial proxy", c.proxy.dialErrorLimit, func() (*ssh.Client, error) {
		return ssh.Dial("tcp", c.proxy.address(), proxyConfig)
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	tunnel, err := dialWithRetry(ctx, log, "Dial from proxy", c.dialErrorLimit, func() (net.Conn, error) {
		return jump.Dial("tcp", c.address())
	})
	if err != nil {
		jump.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	type handshake struct {
		conn  ssh.Conn
		chans <-chan ssh.NewChannel
		reqs  <-chan *ssh.Request
	}
	done, err := dialWithRetry(ctx, log, "Dial", c.dialErrorLimit, func() (handshake, error) {
		conn, chans, reqs, err := ssh.NewClientConn(tunnel, c.address(), config)
		return handshake{conn, chans, reqs}, err
	})
	if err != nil {
		jump.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return ssh.NewClient(done.conn, done.chans, done.reqs), nil
}

// setenvRefused is upstream's message when the server refuses an environment variable, with the
// continuation lines indented by a tab as its raw string literal has them.
func setenvRefused(key string) string {
	return fmt.Sprintf(`Unable to set '%s'. This only works if your SSH server is configured to accept
	these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could
	prefix the command itself with the variables in the form 'VAR=value command'`, key)
}

// runRemote follows upstream's remote run(): `environment` goes by SSH "env" requests, which a
// stock sshd refuses (AcceptEnv) and which then fail the command; the previous output goes the same
// way but a refusal only warns; stdin only when not empty; the script runs as the session command.
func runRemote(ctx context.Context, spec runSpec, conn *connection) (commandResult, error) {
	client, err := conn.dial(ctx, spec.log)
	if err != nil {
		return commandResult{}, err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return commandResult{}, err
	}
	defer session.Close()

	names := make([]string, 0, len(spec.environment))
	for name := range spec.environment {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := session.Setenv(name, spec.environment[name]); err != nil {
			spec.log.Error(setenvRefused(name))
			return commandResult{}, fmt.Errorf("could not set environment variable %q: %w", name, err)
		}
	}
	for _, previous := range []struct{ name, value string }{
		{"PULUMI_COMMAND_STDOUT", spec.previousStdout},
		{"PULUMI_COMMAND_STDERR", spec.previousStderr},
	} {
		if previous.value == "" {
			continue
		}
		if err := session.Setenv(previous.name, previous.value); err != nil {
			spec.log.Warning(setenvRefused(previous.name))
		}
	}
	if spec.stdin != nil && *spec.stdin != "" {
		session.Stdin = strings.NewReader(*spec.stdin)
	}
	out := newCapture(spec)
	session.Stdout, session.Stderr = out.writers(spec.logging)

	done := make(chan error, 1)
	go func() { done <- session.Run(spec.script) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// The engine cancelled (Ctrl-C): stop the remote command rather than leave it running.
		_ = session.Signal(ssh.SIGTERM)
		err = ctx.Err()
	}
	return out.finish(spec.script, err)
}
