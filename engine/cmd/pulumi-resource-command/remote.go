package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"etcd-dr/engine/internal/pluginkit"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"golang.org/x/crypto/ssh"
)

type connection struct {
	host           string
	port           int
	user           string
	password       string
	privateKey     string
	keyPassphrase  string
	hostKey        string
	dialErrorLimit int
	perDialTimeout time.Duration
	proxy          *connection
}

func parseConnection(v resource.PropertyValue) (*connection, error) {
	v = pluginkit.Unwrap(v)
	if !v.IsObject() {
		return nil, fmt.Errorf("connection must be an object with at least a host")
	}
	props := v.ObjectValue()
	host, ok := pluginkit.String(props, "host")
	if !ok || host == "" {
		return nil, fmt.Errorf("connection.host is required")
	}
	c := &connection{
		host:           host,
		port:           int(pluginkit.Number(props, "port", 22)),
		dialErrorLimit: int(pluginkit.Number(props, "dialErrorLimit", 10)),
		perDialTimeout: time.Duration(pluginkit.Number(props, "perDialTimeout", 15)) * time.Second,
	}
	c.user, _ = pluginkit.String(props, "user")
	if c.user == "" {
		c.user = "root"
	}
	c.password, _ = pluginkit.String(props, "password")
	c.privateKey, _ = pluginkit.String(props, "privateKey")
	c.keyPassphrase, _ = pluginkit.String(props, "privateKeyPassword")
	c.hostKey, _ = pluginkit.String(props, "hostKey")
	if proxy, has := props["proxy"]; has && !pluginkit.Unwrap(proxy).IsNull() {
		p, err := parseConnection(proxy)
		if err != nil {
			return nil, fmt.Errorf("connection.proxy: %w", err)
		}
		c.proxy = p
	}
	return c, nil
}

func (c *connection) address() string {
	return net.JoinHostPort(c.host, strconv.Itoa(c.port))
}

func (c *connection) clientConfig() (*ssh.ClientConfig, error) {
	var auth []ssh.AuthMethod
	if c.privateKey != "" {
		var signer ssh.Signer
		var err error
		if c.keyPassphrase != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(c.privateKey), []byte(c.keyPassphrase))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(c.privateKey))
		}
		if err != nil {
			return nil, fmt.Errorf("connection.privateKey cannot be parsed: %w", err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if c.password != "" {
		auth = append(auth, ssh.Password(c.password))
	}
	if len(auth) == 0 {
		return nil, fmt.Errorf("connection to %s has neither privateKey nor password", c.address())
	}
	hostKeyCheck := ssh.InsecureIgnoreHostKey()
	if c.hostKey != "" {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(c.hostKey))
		if err != nil {
			return nil, fmt.Errorf("connection.hostKey cannot be parsed: %w", err)
		}
		hostKeyCheck = ssh.FixedHostKey(key)
	}
	return &ssh.ClientConfig{User: c.user, Auth: auth, HostKeyCallback: hostKeyCheck, Timeout: c.perDialTimeout}, nil
}

// dial connects, through the proxy when one is set, retrying while hosts are still booting.
func (c *connection) dial(ctx context.Context) (*ssh.Client, error) {
	config, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 1; c.dialErrorLimit < 0 || attempt <= max(c.dialErrorLimit, 1); attempt++ {
		client, err := c.dialOnce(ctx, config)
		if err == nil {
			return client, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(min(attempt, 5)) * time.Second):
		}
	}
	return nil, fmt.Errorf("ssh to %s@%s failed %d times: %w", c.user, c.address(), max(c.dialErrorLimit, 1), lastErr)
}

func (c *connection) dialOnce(ctx context.Context, config *ssh.ClientConfig) (*ssh.Client, error) {
	if c.proxy == nil {
		return ssh.Dial("tcp", c.address(), config)
	}
	jump, err := c.proxy.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	conn, err := jump.Dial("tcp", c.address())
	if err != nil {
		jump.Close()
		return nil, err
	}
	clientConn, chans, reqs, err := ssh.NewClientConn(conn, c.address(), config)
	if err != nil {
		jump.Close()
		return nil, err
	}
	return ssh.NewClient(clientConn, chans, reqs), nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// exportPrefix sets the environment in the remote shell itself: most sshd configurations refuse
// SetEnv requests (AcceptEnv), and the script must see the variables either way.
func exportPrefix(env map[string]string) (string, error) {
	names := make([]string, 0, len(env))
	for name := range env {
		if !envName.MatchString(name) {
			return "", fmt.Errorf("environment variable name %q is not valid in a shell", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "export %s=%s\n", name, shellQuote(env[name]))
	}
	return b.String(), nil
}

func runSession(ctx context.Context, inputs resource.PropertyMap, script string, stdin io.Reader) ([]byte, []byte, error) {
	conn, err := parseConnection(inputs["connection"])
	if err != nil {
		return nil, nil, err
	}
	client, err := conn.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return nil, nil, fmt.Errorf("ssh session on %s: %w", conn.address(), err)
	}
	defer session.Close()
	var stdout, stderr bytes.Buffer
	session.Stdin, session.Stdout, session.Stderr = stdin, &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- session.Run(script) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		err = ctx.Err()
	}
	if err != nil {
		return stdout.Bytes(), stderr.Bytes(), failure(conn.host, script, err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes(), stderr.Bytes(), nil
}

func runRemote(ctx context.Context, script string, inputs resource.PropertyMap, env map[string]string, stdin string) (commandResult, error) {
	prefix, err := exportPrefix(env)
	if err != nil {
		return commandResult{}, err
	}
	stdout, stderr, err := runSession(ctx, inputs, prefix+script, strings.NewReader(stdin))
	if err != nil {
		return commandResult{}, err
	}
	return commandResult{stdout: trimOutput(stdout), stderr: trimOutput(stderr)}, nil
}

// copyToRemote writes an asset to remotePath, or unpacks an archive into the remotePath directory.
func copyToRemote(ctx context.Context, inputs resource.PropertyMap) error {
	remotePath, ok := pluginkit.String(inputs, "remotePath")
	if !ok || remotePath == "" {
		return fmt.Errorf("remotePath is required")
	}
	source := pluginkit.Unwrap(inputs["source"])
	switch {
	case source.IsAsset():
		blob, err := source.AssetValue().Read()
		if err != nil {
			return fmt.Errorf("reading the source asset: %w", err)
		}
		defer blob.Close()
		script := fmt.Sprintf("mkdir -p %s && cat > %s", shellQuote(path.Dir(remotePath)), shellQuote(remotePath))
		_, _, err = runSession(ctx, inputs, script, blob)
		return err
	case source.IsArchive():
		reader, err := source.ArchiveValue().Open()
		if err != nil {
			return fmt.Errorf("opening the source archive: %w", err)
		}
		defer reader.Close()
		var stream bytes.Buffer
		if err := writeTar(&stream, reader); err != nil {
			return err
		}
		script := fmt.Sprintf("mkdir -p %s && tar -xf - -C %s", shellQuote(remotePath), shellQuote(remotePath))
		_, _, err = runSession(ctx, inputs, script, &stream)
		return err
	default:
		return fmt.Errorf("source must be an asset or an archive")
	}
}

// writeTar streams every member of the archive into a tar file, with mode 0644 (0755 for scripts
// is the job of the command that installs them).
func writeTar(out io.Writer, reader archive.Reader) error {
	tw := tar.NewWriter(out)
	for {
		name, blob, err := reader.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the source archive: %w", err)
		}
		header := &tar.Header{Name: name, Mode: 0o644, Size: blob.Size(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(header); err != nil {
			return err
		}
		if _, err := io.Copy(tw, blob); err != nil {
			return err
		}
	}
	return tw.Close()
}
