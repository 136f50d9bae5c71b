// Package pluginkit holds what the project's offline providers share: property (un)marshalling with
// secrets and unknowns kept, input diffs, and the provider-level RPCs every provider answers alike.
package pluginkit

import (
	"context"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
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

// ChangedKeys lists the input keys whose value differs between olds and news; an unknown new value
// counts as a change, because it may turn out different.
func ChangedKeys(olds, news resource.PropertyMap) []string {
	keys := map[resource.PropertyKey]struct{}{}
	for k := range olds {
		keys[k] = struct{}{}
	}
	for k := range news {
		keys[k] = struct{}{}
	}
	var changed []string
	for k := range keys {
		if k == "__defaults" {
			continue
		}
		o, n := olds[k], news[k]
		if n.ContainsUnknowns() || !Unwrap(o).DeepEquals(Unwrap(n)) {
			changed = append(changed, string(k))
		}
	}
	sort.Strings(changed)
	return changed
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

// DiffResponse builds a detailed diff: keys in replaceKeys force a replacement, the rest update in place.
func DiffResponse(changed []string, replaceKeys map[string]bool) *pulumirpc.DiffResponse {
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true}
	}
	detailed := map[string]*pulumirpc.PropertyDiff{}
	var replaces []string
	for _, key := range changed {
		kind := pulumirpc.PropertyDiff_UPDATE
		if replaceKeys[key] {
			kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
			replaces = append(replaces, key)
		}
		detailed[key] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_SOME,
		Diffs:           changed,
		Replaces:        replaces,
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
	}
}

// Base answers the provider-level RPCs the same way for every offline provider.
type Base struct {
	pulumirpc.UnimplementedResourceProviderServer
	Version string
}

func (b *Base) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: b.Version}, nil
}

func (b *Base) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
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
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
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

// DiffInputs returns the old and new inputs of a Diff request. Old inputs come from the request
// when the engine sends them, else from the old state restricted to the resource's input names.
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
	return olds, news, nil
}
