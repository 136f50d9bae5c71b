// pulumi-resource-command: the offline build of the `command` provider for etcd-dr's tests and lab.
// The upstream provider module (github.com/pulumi/pulumi-command/provider, v1.2.1) is not served by
// this machine's module proxy, so this implements the resources etcd-dr uses, command:local:Command
// and command:remote:Command, with the upstream tokens, properties and semantics. engine/README.md
// lists every behaviour with the upstream function it follows and the test that holds it.
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
)

var inputNames = map[string][]string{
	tokenLocal:  {"addPreviousOutputInEnv", "archivePaths", "assetPaths", "create", "delete", "dir", "environment", "interpreter", "logging", "stdin", "triggers", "update"},
	tokenRemote: {"addPreviousOutputInEnv", "connection", "create", "delete", "environment", "logging", "stdin", "triggers", "update"},
}

type commandProvider struct {
	pluginkit.Base
	host *provider.HostClient
}

func (p *commandProvider) logger(ctx context.Context, urn string) *pluginkit.Logger {
	return pluginkit.NewLogger(ctx, p.host, urn)
}

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	typ := pluginkit.ResourceType(req.GetUrn())
	if _, ok := inputNames[typ]; !ok {
		return nil, fmt.Errorf("%s is not implemented by etcd-dr's offline command provider (it has %s and %s)", typ, tokenLocal, tokenRemote)
	}
	news, err := pluginkit.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	switch typ {
	case tokenRemote:
		if conn, has := news["connection"]; !has || conn.IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "connection", Reason: "Missing required property 'connection'"})
		} else {
			// Upstream's schema defaults fill the connection, and its `provider:"secret"` tag makes
			// the whole connection a secret, whatever the program passed.
			news["connection"] = pluginkit.Secret(connectionDefaults(conn))
		}
	case tokenLocal:
		// Not used by etcd-dr; refusing them beats silently producing no assets.
		for _, key := range []resource.PropertyKey{"assetPaths", "archivePaths"} {
			if _, has := news[key]; has {
				failures = append(failures, &pulumirpc.CheckFailure{Property: string(key), Reason: string(key) + " is not implemented by etcd-dr's offline command provider"})
			}
		}
	}
	inputs, err := pluginkit.Marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// Diff is pulumi-go-provider's default diff for a resource with an Update: any changed input is an
// update -- which re-runs the command -- and only a change of `triggers` as a whole replaces. (The
// SDK adds `replaceOnChanges: ["triggers[*]"]`, so the engine turns element changes into
// replacements too.)
func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	typ := pluginkit.ResourceType(req.GetUrn())
	olds, news, err := pluginkit.DiffInputs(req, inputNames[typ])
	if err != nil {
		return nil, err
	}
	return pluginkit.Diff(olds, news, func(path string) bool { return path == "triggers" }), nil
}

func (p *commandProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	typ := pluginkit.ResourceType(req.GetUrn())
	inputs, err := pluginkit.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	// Upstream: resource.NewUniqueHex(name, 8, 0), the resource name plus eight hex digits.
	id, err := resource.NewUniqueHex(resource.URN(req.GetUrn()).Name(), 8, 0)
	if err != nil {
		return nil, err
	}
	outputs := outputsOf(typ, inputs)
	outputs["stdout"], outputs["stderr"] = resource.NewStringProperty(""), resource.NewStringProperty("")
	if req.GetPreview() {
		outputs["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
		outputs["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
	} else if create := pluginkit.OptionalString(inputs, "create"); create != nil {
		result, err := p.run(ctx, req.GetUrn(), typ, *create, inputs, nil)
		if err != nil {
			return nil, err
		}
		result.store(outputs)
	}
	props, err := pluginkit.Marshal(outputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// Update runs `update`, or `create` when there is no `update`, whatever input changed: upstream
// has no notion of inputs that do not matter to the command.
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
	outputs := outputsOf(typ, news)
	for _, key := range []resource.PropertyKey{"stdout", "stderr"} {
		outputs[key] = resource.NewStringProperty("")
		if v, ok := olds[key]; ok {
			outputs[key] = v
		}
	}
	if req.GetPreview() {
		// pulumi-go-provider makes every output depend on every input: once an input differs
		// from the state, the command's output is unknown until it runs.
		if inputsChanged(typ, olds, news) {
			outputs["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
			outputs["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
		}
	} else {
		script := pluginkit.OptionalString(news, "update")
		if script == nil {
			script = pluginkit.OptionalString(news, "create")
		}
		if script != nil {
			result, err := p.run(ctx, req.GetUrn(), typ, *script, news, olds)
			if err != nil {
				return nil, err
			}
			result.store(outputs)
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
	state, err := pluginkit.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if script := pluginkit.OptionalString(state, "delete"); script != nil {
		if _, err := p.run(ctx, req.GetUrn(), typ, *script, state, state); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

// outputsOf is the state upstream records: the inputs as given, with the connection a secret.
func outputsOf(typ string, inputs resource.PropertyMap) resource.PropertyMap {
	outputs := pluginkit.OnlyInputs(inputs, inputNames[typ])
	if conn, ok := outputs["connection"]; ok {
		outputs["connection"] = pluginkit.Secret(conn)
	}
	return outputs
}

func inputsChanged(typ string, olds, news resource.PropertyMap) bool {
	for _, name := range inputNames[typ] {
		key := resource.PropertyKey(name)
		n := news[key]
		if n.ContainsUnknowns() {
			return true
		}
		if o, had := olds[key]; had && !pluginkit.Unwrap(o).DeepEquals(pluginkit.Unwrap(n)) {
			return true
		}
	}
	return false
}

// run executes script locally or on the remote host; previous (the state before this run, nil on
// create) supplies PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR.
func (p *commandProvider) run(ctx context.Context, urn, typ, script string, inputs, previous resource.PropertyMap) (commandResult, error) {
	spec := runSpec{
		script:      script,
		environment: stringMap(inputs, "environment"),
		stdin:       pluginkit.OptionalString(inputs, "stdin"),
		logging:     pluginkit.OptionalString(inputs, "logging"),
		log:         p.logger(ctx, urn),
	}
	if pluginkit.Bool(inputs, "addPreviousOutputInEnv", true) && previous != nil {
		spec.previousStdout, _ = pluginkit.String(previous, "stdout")
		spec.previousStderr, _ = pluginkit.String(previous, "stderr")
	}
	if typ == tokenLocal {
		return runLocal(ctx, spec, inputs)
	}
	conn, err := parseConnection(inputs["connection"])
	if err != nil {
		return commandResult{}, err
	}
	return runRemote(ctx, spec, conn)
}

func stringMap(props resource.PropertyMap, key string) map[string]string {
	v := pluginkit.Unwrap(props[resource.PropertyKey(key)])
	if !v.IsObject() {
		return nil
	}
	out := map[string]string{}
	for k, item := range v.ObjectValue() {
		if item = pluginkit.Unwrap(item); item.IsString() {
			out[string(k)] = item.StringValue()
		}
	}
	return out
}

func main() {
	if err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &commandProvider{Base: pluginkit.Base{Version: version}, host: host}, nil
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
