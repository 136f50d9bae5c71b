// pulumi-resource-command: the offline build of the `command` provider for etcd-dr's tests and lab.
// The upstream provider module is not served by this machine's module proxy, so this implements
// the resources etcd-dr uses -- local.Command, remote.Command and remote.CopyToRemote -- with the
// upstream tokens, property names and semantics: a change of `triggers` replaces the resource, any
// other change of what runs re-runs `update` (or `create` when there is no `update`), `delete` runs
// on delete, and PULUMI_COMMAND_STDOUT/STDERR carry the previous output into update and delete.
package main

import (
	"context"
	"fmt"
	"os"

	"etcd-dr/engine/internal/pluginkit"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set at build time to the @pulumi/command version in package.json.
var version = "0.0.0"

const (
	tokenLocal  = "command:local:Command"
	tokenRemote = "command:remote:Command"
	tokenCopy   = "command:remote:CopyToRemote"
)

var inputNames = map[string][]string{
	tokenLocal:  {"addPreviousOutputInEnv", "archivePaths", "assetPaths", "create", "delete", "dir", "environment", "interpreter", "logging", "stdin", "triggers", "update"},
	tokenRemote: {"addPreviousOutputInEnv", "connection", "create", "delete", "environment", "logging", "stdin", "triggers", "update"},
	tokenCopy:   {"connection", "remotePath", "source", "triggers"},
}

// Changing one of these re-runs the command (or the copy); changing anything else only updates the state.
var rerunKeys = map[string]bool{
	"create": true, "update": true, "environment": true, "stdin": true, "dir": true, "interpreter": true,
	"archivePaths": true, "assetPaths": true, "source": true, "remotePath": true,
}

type commandProvider struct {
	pluginkit.Base
}

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	typ := pluginkit.ResourceType(req.GetUrn())
	if _, ok := inputNames[typ]; !ok {
		return nil, fmt.Errorf("%s is not implemented by etcd-dr's offline command provider", typ)
	}
	news, err := pluginkit.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	if typ != tokenLocal {
		if _, has := news["connection"]; !has {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "connection", Reason: "connection is required"})
		}
	}
	if typ == tokenCopy {
		for _, key := range []string{"source", "remotePath"} {
			if _, has := news[resource.PropertyKey(key)]; !has {
				failures = append(failures, &pulumirpc.CheckFailure{Property: key, Reason: key + " is required"})
			}
		}
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	typ := pluginkit.ResourceType(req.GetUrn())
	olds, news, err := pluginkit.DiffInputs(req, inputNames[typ])
	if err != nil {
		return nil, err
	}
	return pluginkit.DiffResponse(pluginkit.ChangedKeys(olds, news), map[string]bool{"triggers": true}), nil
}

func (p *commandProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	typ := pluginkit.ResourceType(req.GetUrn())
	inputs, err := pluginkit.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	outputs, err := p.apply(ctx, typ, "create", inputs, nil, req.GetPreview())
	if err != nil {
		return nil, err
	}
	props, err := pluginkit.Marshal(outputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: newID(), Properties: props}, nil
}

func (p *commandProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	typ := pluginkit.ResourceType(req.GetUrn())
	olds, err := pluginkit.Unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := pluginkit.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	rerun := false
	for _, key := range pluginkit.ChangedKeys(pluginkit.OnlyInputs(olds, inputNames[typ]), news) {
		rerun = rerun || rerunKeys[key]
	}
	var outputs resource.PropertyMap
	if rerun {
		outputs, err = p.apply(ctx, typ, "update", news, olds, req.GetPreview())
		if err != nil {
			return nil, err
		}
	} else {
		outputs = news.Copy()
		for _, key := range []resource.PropertyKey{"stdout", "stderr"} {
			if v, ok := olds[key]; ok {
				outputs[key] = v
			}
		}
	}
	props, err := pluginkit.Marshal(outputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *commandProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	typ := pluginkit.ResourceType(req.GetUrn())
	if typ == tokenCopy {
		return &emptypb.Empty{}, nil
	}
	state, err := pluginkit.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	script, ok := pluginkit.String(state, "delete")
	if !ok || script == "" {
		return &emptypb.Empty{}, nil
	}
	if _, err := p.run(ctx, typ, script, state, state); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// apply performs create or update: it runs the command (or copies the files) and returns the outputs.
func (p *commandProvider) apply(ctx context.Context, typ, phase string, inputs, olds resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	outputs := inputs.Copy()
	if typ == tokenCopy {
		if !preview {
			if err := copyToRemote(ctx, inputs); err != nil {
				return nil, err
			}
		}
		return outputs, nil
	}
	if preview {
		outputs["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
		outputs["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
		return outputs, nil
	}
	script, _ := pluginkit.String(inputs, "create")
	if phase == "update" {
		if update, ok := pluginkit.String(inputs, "update"); ok && update != "" {
			script = update
		}
	}
	result := commandResult{}
	if script != "" {
		var err error
		result, err = p.run(ctx, typ, script, inputs, olds)
		if err != nil {
			return nil, err
		}
	}
	outputs["stdout"] = resource.NewStringProperty(result.stdout)
	outputs["stderr"] = resource.NewStringProperty(result.stderr)
	return outputs, nil
}

type commandResult struct {
	stdout string
	stderr string
}

// environment gathers `environment` plus, when asked for, the previous run's output.
func environment(inputs, olds resource.PropertyMap) (map[string]string, error) {
	env := map[string]string{}
	if v, ok := inputs["environment"]; ok {
		v = pluginkit.Unwrap(v)
		if v.IsObject() {
			for key, value := range v.ObjectValue() {
				value = pluginkit.Unwrap(value)
				if !value.IsString() {
					return nil, fmt.Errorf("environment variable %s is not a string", key)
				}
				env[string(key)] = value.StringValue()
			}
		}
	}
	if olds != nil && pluginkit.Bool(inputs, "addPreviousOutputInEnv", true) {
		if out, ok := pluginkit.String(olds, "stdout"); ok {
			env["PULUMI_COMMAND_STDOUT"] = out
		}
		if errOut, ok := pluginkit.String(olds, "stderr"); ok {
			env["PULUMI_COMMAND_STDERR"] = errOut
		}
	}
	return env, nil
}

func (p *commandProvider) run(ctx context.Context, typ, script string, inputs, olds resource.PropertyMap) (commandResult, error) {
	env, err := environment(inputs, olds)
	if err != nil {
		return commandResult{}, err
	}
	stdin, _ := pluginkit.String(inputs, "stdin")
	if typ == tokenLocal {
		return runLocal(ctx, script, inputs, env, stdin)
	}
	return runRemote(ctx, script, inputs, env, stdin)
}

func main() {
	if err := provider.Main("command", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &commandProvider{Base: pluginkit.Base{Version: version}}, nil
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
