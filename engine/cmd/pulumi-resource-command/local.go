package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"etcd-dr/engine/internal/pluginkit"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func newID() string {
	raw := make([]byte, 8)
	if _, err := rand.Read(raw); err != nil {
		panic(err)
	}
	return hex.EncodeToString(raw)
}

// trimOutput drops the one trailing newline commands print, as the upstream provider does.
func trimOutput(b []byte) string {
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
}

func failure(where, script string, err error, stdout, stderr []byte) error {
	first := strings.SplitN(strings.TrimSpace(script), "\n", 2)[0]
	return fmt.Errorf("%s: command %q failed: %v\nstdout: %s\nstderr: %s", where, first, err, trimOutput(stdout), trimOutput(stderr))
}

func interpreter(inputs resource.PropertyMap) []string {
	v, ok := inputs["interpreter"]
	if ok {
		v = pluginkit.Unwrap(v)
		if v.IsArray() {
			var args []string
			for _, item := range v.ArrayValue() {
				item = pluginkit.Unwrap(item)
				if item.IsString() {
					args = append(args, item.StringValue())
				}
			}
			if len(args) > 0 {
				return args
			}
		}
	}
	return []string{"/bin/sh", "-c"}
}

func runLocal(ctx context.Context, script string, inputs resource.PropertyMap, env map[string]string, stdin string) (commandResult, error) {
	args := append(interpreter(inputs), script)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if dir, ok := pluginkit.String(inputs, "dir"); ok && dir != "" {
		cmd.Dir = dir
	}
	cmd.Env = os.Environ()
	for key, value := range env {
		cmd.Env = append(cmd.Env, key+"="+value)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return commandResult{}, failure("local", script, err, stdout.Bytes(), stderr.Bytes())
	}
	return commandResult{stdout: trimOutput(stdout.Bytes()), stderr: trimOutput(stderr.Bytes())}, nil
}
