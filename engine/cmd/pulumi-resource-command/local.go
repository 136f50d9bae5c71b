package main

import (
	"context"
	"os"
	"os/exec"
	"strings"

	"etcd-dr/engine/internal/pluginkit"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func interpreter(inputs resource.PropertyMap) []string {
	v := pluginkit.Unwrap(inputs["interpreter"])
	if v.IsArray() {
		var args []string
		for _, item := range v.ArrayValue() {
			if item = pluginkit.Unwrap(item); item.IsString() {
				args = append(args, item.StringValue())
			}
		}
		if len(args) > 0 {
			return args
		}
	}
	return []string{"/bin/sh", "-c"}
}

// runLocal follows upstream's local run(): the provider's own environment plus `environment`, the
// previous output only when there was some, stdin only when it is not empty, and the provider's
// working directory (the program's) unless `dir` is set.
func runLocal(ctx context.Context, spec runSpec, inputs resource.PropertyMap) (commandResult, error) {
	args := append(interpreter(inputs), spec.script)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if dir := pluginkit.OptionalString(inputs, "dir"); dir != nil {
		cmd.Dir = *dir
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return commandResult{}, err
		}
		cmd.Dir = wd
	}
	cmd.Env = os.Environ()
	for k, v := range spec.environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if spec.previousStdout != "" {
		cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDOUT="+spec.previousStdout)
	}
	if spec.previousStderr != "" {
		cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDERR="+spec.previousStderr)
	}
	if spec.stdin != nil && *spec.stdin != "" {
		cmd.Stdin = strings.NewReader(*spec.stdin)
	}
	out := newCapture(spec)
	cmd.Stdout, cmd.Stderr = out.writers(spec.logging)
	return out.finish(spec.script, cmd.Run())
}
