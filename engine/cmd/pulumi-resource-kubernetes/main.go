// pulumi-resource-kubernetes: the offline build of the `kubernetes` provider for etcd-dr's tests
// and lab. The upstream provider (github.com/pulumi/pulumi-kubernetes/provider/v4) is not served by
// this machine's module proxy, so this implements what etcd-dr uses -- the provider itself and
// kubernetes:core/v1:ConfigMap (created, updated, deleted, and read with `.get`) -- with upstream's
// token, state shape (the live object plus `__inputs`), diff, server-side apply and error text,
// over client-go. engine/README.md lists every behaviour with the upstream function it follows and
// the test that holds it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"etcd-dr/engine/internal/pluginkit"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// version is set at build time to the @pulumi/kubernetes version in package.json.
var version = "0.0.0"

const tokenConfigMap = "kubernetes:core/v1:ConfigMap"

// kinds are the resources this provider implements, with their REST resource.
var kinds = map[string]struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}{
	tokenConfigMap: {gvr: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, namespaced: true},
}

type kubeProvider struct {
	pluginkit.Base
	host *provider.HostClient

	mu            sync.Mutex
	settings      settings
	cluster       *cluster
	enableSecrets bool
}

func (p *kubeProvider) log(ctx context.Context, sev diag.Severity, urn, msg string) {
	if p.host == nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", sev, msg)
		return
	}
	_ = p.host.Log(ctx, sev, resource.URN(urn), msg)
}

func (p *kubeProvider) state() (settings, *cluster) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cluster == nil {
		// Resources are only checked after Configure; an unconfigured provider cannot reach anything.
		return p.settings, &cluster{unreachable: true, unreachableReason: "the provider was not configured"}
	}
	return p.settings, p.cluster
}

// unmarshal keeps secrets and unknowns and, unlike the engine's default, nulls: Kubernetes objects
// may carry explicit nulls.
func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: false})
}

func (p *kubeProvider) marshal(pm resource.PropertyMap) (*structpb.Struct, error) {
	p.mu.Lock()
	keep := p.enableSecrets
	p.mu.Unlock()
	return plugin.MarshalProperties(pm, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: keep, SkipNulls: false})
}

func (p *kubeProvider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	opts := plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: false}
	olds, err := plugin.UnmarshalProperties(req.GetOlds(), opts)
	if err != nil {
		return nil, err
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), opts)
	if err != nil {
		return nil, fmt.Errorf("DiffConfig failed because of malformed resource inputs: %w", err)
	}
	if olds.Diff(news) == nil {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	diffs, replaces, err := configChanges(olds, news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: diffs, Replaces: replaces}, nil
}

// Configure connects like upstream: a kubeconfig that does not parse or load, or an API server that
// does not answer, does not fail Configure; it marks the cluster unreachable, and each operation
// then decides (previews go on, changes fail, reads fail unless deleteUnreachable).
func (p *kubeProvider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	vars := req.GetVariables() //nolint:staticcheck // the engine still sends them and upstream reads them
	s := readSettings(vars)
	c, err := connect(vars, &s, "pulumi-kubernetes/"+version)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.settings, p.cluster, p.enableSecrets = s, c, req.GetAcceptSecrets()
	p.mu.Unlock()
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, SupportsAutonamingConfiguration: true}, nil
}

func kindOf(urn string) (string, error) {
	typ := pluginkit.ResourceType(urn)
	if _, ok := kinds[typ]; !ok {
		return "", fmt.Errorf("%s is not implemented by etcd-dr's offline kubernetes provider (it has %s)", typ, tokenConfigMap)
	}
	return typ, nil
}

var errNotImplemented = errors.New("not implemented by etcd-dr's offline kubernetes provider")

func main() {
	if err := provider.Main("kubernetes", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &kubeProvider{Base: pluginkit.Base{Version: version}, host: host}, nil
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
