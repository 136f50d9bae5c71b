// Package pluginkit holds what the project's offline providers share: property (un)marshalling with
// secrets and unknowns kept, the input diff the upstream providers compute, logging back to the
// engine, and the provider-level RPCs every provider answers alike.
package pluginkit

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

var keepAll = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, KeepOutputValues: false}

// Unmarshal decodes gRPC properties, keeping secrets and unknowns as such.
func Unmarshal(props *structpb.Struct) (resource.PropertyMap, error) {
	if props == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(props, keepAll)
}

// Marshal encodes properties for the engine, keeping secrets and unknowns.
func Marshal(props resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(props, keepAll)
}

// Unwrap returns a value with secret wrappers removed (the provider needs the plain value to act on it).
func Unwrap(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

// Secret wraps v in a secret unless it already is one.
func Secret(v resource.PropertyValue) resource.PropertyValue {
	if v.IsSecret() {
		return v
	}
	return resource.MakeSecret(v)
}

// String reads a string input; ok is false when absent, null or unknown.
func String(props resource.PropertyMap, key string) (string, bool) {
	v, has := props[resource.PropertyKey(key)]
	if !has {
		return "", false
	}
	v = Unwrap(v)
	if !v.IsString() {
		return "", false
	}
	return v.StringValue(), true
}

// OptionalString is String as a pointer: upstream providers tell "absent" from "empty".
func OptionalString(props resource.PropertyMap, key string) *string {
	if s, ok := String(props, key); ok {
		return &s
	}
	return nil
}

// Number reads a numeric input with a default.
func Number(props resource.PropertyMap, key string, fallback float64) float64 {
	v, has := props[resource.PropertyKey(key)]
	if !has {
		return fallback
	}
	v = Unwrap(v)
	if !v.IsNumber() {
		return fallback
	}
	return v.NumberValue()
}

// Bool reads a boolean input with a default.
func Bool(props resource.PropertyMap, key string, fallback bool) bool {
	v, has := props[resource.PropertyKey(key)]
	if !has {
		return fallback
	}
	v = Unwrap(v)
	if !v.IsBool() {
		return fallback
	}
	return v.BoolValue()
}

// OnlyInputs keeps the keys of olds that are also input names, so outputs never look like changed inputs.
func OnlyInputs(state resource.PropertyMap, inputNames []string) resource.PropertyMap {
	kept := resource.PropertyMap{}
	for _, name := range inputNames {
		if v, ok := state[resource.PropertyKey(name)]; ok {
			kept[resource.PropertyKey(name)] = v
		}
	}
	return kept
}

// DiffInputs returns the old and new inputs of a Diff request. Old inputs come from the request
// when the engine sends them, else from the old state restricted to the resource's input names.
// Like pulumi-go-provider, the engine's bookkeeping keys (`__defaults`, `version`) are not inputs.
func DiffInputs(req *pulumirpc.DiffRequest, inputNames []string) (resource.PropertyMap, resource.PropertyMap, error) {
	olds, err := Unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, nil, err
	}
	if len(olds) == 0 {
		state, err := Unmarshal(req.GetOlds())
		if err != nil {
			return nil, nil, err
		}
		olds = OnlyInputs(state, inputNames)
	}
	news, err := Unmarshal(req.GetNews())
	if err != nil {
		return nil, nil, err
	}
	for k := range news {
		if k == "version" || strings.HasPrefix(string(k), "__") {
			delete(news, k)
		}
	}
	return olds, news, nil
}

// Diff compares old and new inputs the way pulumi-go-provider's default Diff does: a structural
// diff whose paths (`connection.host`, `triggers[0]`) become the detailed diff, where a path is a
// replacement only when replace(path) says so, and where the top-level keys of the paths become
// Diffs and Replaces.
func Diff(olds, news resource.PropertyMap, replace func(path string) bool) *pulumirpc.DiffResponse {
	objDiff := olds.Diff(news)
	if objDiff == nil || !objDiff.AnyChanges() {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true}
	}
	detailed := map[string]*pulumirpc.PropertyDiff{}
	diffs, replaces := map[string]bool{}, map[string]bool{}
	for path, d := range plugin.NewDetailedDiffFromObjectDiff(objDiff, false) {
		if replace(path) {
			d = d.ToReplace()
		}
		head := path
		if parsed, err := resource.ParsePropertyPath(path); err == nil && len(parsed) > 0 {
			if key, ok := parsed[0].(string); ok {
				head = key
			}
		}
		diffs[head] = true
		kind := pulumirpc.PropertyDiff_Kind(d.Kind)
		switch kind {
		case pulumirpc.PropertyDiff_ADD_REPLACE, pulumirpc.PropertyDiff_DELETE_REPLACE, pulumirpc.PropertyDiff_UPDATE_REPLACE:
			replaces[head] = true
		}
		detailed[path] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: d.InputDiff}
	}
	return &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_SOME,
		Diffs:           sortedKeys(diffs),
		Replaces:        sortedKeys(replaces),
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
	}
}

func sortedKeys(set map[string]bool) []string {
	if len(set) == 0 {
		return nil
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Logger sends a provider's messages to the engine, attached to the resource being worked on, as
// pulumi-go-provider's logger does: Log lines are part of the update's diagnostics, Status lines
// are the ephemeral ones the progress display shows next to the resource.
type Logger struct {
	ctx  context.Context
	host *provider.HostClient
	urn  resource.URN
}

// NewLogger returns a logger for the resource urn; without a host it writes to stderr.
func NewLogger(ctx context.Context, host *provider.HostClient, urn string) *Logger {
	return &Logger{ctx: ctx, host: host, urn: resource.URN(urn)}
}

func (l *Logger) send(sev diag.Severity, msg string, ephemeral bool) {
	if l == nil {
		return
	}
	var err error
	if l.host != nil {
		if ephemeral {
			err = l.host.LogStatus(l.ctx, sev, l.urn, msg)
		} else {
			err = l.host.Log(l.ctx, sev, l.urn, msg)
		}
	}
	if l.host == nil || err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", sev, msg)
	}
}

func (l *Logger) Error(msg string)       { l.send(diag.Error, msg, false) }
func (l *Logger) Warning(msg string)     { l.send(diag.Warning, msg, false) }
func (l *Logger) InfoStatus(msg string)  { l.send(diag.Info, msg, true) }
func (l *Logger) DebugStatus(msg string) { l.send(diag.Debug, msg, true) }

// Base answers the provider-level RPCs the same way for every offline provider. It has no
// Handshake, like pulumi-go-provider: the engine then learns the protocol from Configure.
type Base struct {
	pulumirpc.UnimplementedResourceProviderServer
	Version string
}

func (b *Base) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: b.Version}, nil
}

func (b *Base) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: "{}"}, nil
}

func (b *Base) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (b *Base) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (b *Base) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true, AcceptOutputs: true}, nil
}

func (b *Base) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// Read returns the recorded state unchanged: what these resources did cannot be read back.
func (b *Base) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// ResourceType is the type token of a URN's resource: the last link of a parent$child type chain.
func ResourceType(urn string) string {
	parts := strings.Split(urn, "::")
	chain := strings.Split(parts[len(parts)-2], "$")
	return chain[len(chain)-1]
}
