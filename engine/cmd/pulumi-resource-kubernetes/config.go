package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientapi "k8s.io/client-go/tools/clientcmd/api"
)

const trueStr = "true"

// settings is what Configure derives from the provider's inputs (the engine's `variables`, keyed
// `kubernetes:config:<name>`) and the PULUMI_K8S_* environment, as upstream's Configure does.
type settings struct {
	serverSideApply        bool
	enableConfigMapMutable bool
	deleteUnreachable      bool
	skipUpdateUnreachable  bool
	enablePatchForce       bool
	upsertExistingObjects  bool
	defaultNamespace       string
}

// flag reads a boolean setting: the provider input wins, then the environment variable, then the
// default -- upstream's order for every PULUMI_K8S_* switch.
func flag(vars map[string]string, name, env string, fallback bool) bool {
	if v, ok := vars["kubernetes:config:"+name]; ok {
		return v == trueStr
	}
	if v, ok := os.LookupEnv(env); ok {
		return v == trueStr
	}
	return fallback
}

func readSettings(vars map[string]string) settings {
	return settings{
		// Server-side apply is the default of the 4.x provider.
		serverSideApply:        flag(vars, "enableServerSideApply", "PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY", true),
		enableConfigMapMutable: flag(vars, "enableConfigMapMutable", "PULUMI_K8S_ENABLE_CONFIGMAP_MUTABLE", false),
		deleteUnreachable:      flag(vars, "deleteUnreachable", "PULUMI_K8S_DELETE_UNREACHABLE", false),
		skipUpdateUnreachable:  flag(vars, "skipUpdateUnreachable", "PULUMI_K8S_SKIP_UPDATE_UNREACHABLE", false),
		enablePatchForce:       flag(vars, "enablePatchForce", "PULUMI_K8S_ENABLE_PATCH_FORCE", false),
		upsertExistingObjects:  flag(vars, "upsertExistingObjects", "PULUMI_K8S_UPSERT_EXISTING_OBJECTS", false),
		defaultNamespace:       vars["kubernetes:config:namespace"],
	}
}

// parseKubeconfigString reads a kubeconfig given as a path (with `~` expanded) or as its YAML or
// JSON text: an existing file wins, anything else is parsed as the text.
func parseKubeconfigString(pathOrContents string) (*clientapi.Config, error) {
	if pathOrContents == "" {
		return &clientapi.Config{}, nil
	}
	home := func() string {
		u, err := user.Current()
		if err != nil {
			return ""
		}
		return u.HomeDir
	}
	if pathOrContents == "~" {
		pathOrContents = home()
	} else if strings.HasPrefix(pathOrContents, "~/") {
		pathOrContents = filepath.Join(home(), pathOrContents[2:])
	}
	contents := pathOrContents
	if _, err := os.Stat(pathOrContents); err == nil {
		b, err := os.ReadFile(pathOrContents)
		if err != nil {
			return nil, err
		}
		contents = string(b)
	}
	return clientcmd.Load([]byte(contents))
}

// parseKubeconfigValue is parseKubeconfigString for a provider input, which may also be an object.
func parseKubeconfigValue(v resource.PropertyValue) (*clientapi.Config, error) {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	var text string
	switch {
	case v.IsNull():
		return &clientapi.Config{}, nil
	case v.IsString():
		text = v.StringValue()
	case v.IsObject():
		b, err := json.Marshal(v.ObjectValue().Mappable())
		if err != nil {
			return nil, fmt.Errorf("failed to unmarshal kubeconfig: %w", err)
		}
		text = string(b)
	default:
		return nil, fmt.Errorf("unexpected kubeconfig format, type: %v", v.TypeString())
	}
	config, err := parseKubeconfigString(text)
	if err != nil {
		return nil, fmt.Errorf("failed to parse kubeconfig: %w", err)
	}
	return config, nil
}

// activeCluster is the cluster entry a kubeconfig selects, after the provider's context and cluster
// overrides; DiffConfig replaces the provider when it changes.
func activeCluster(config *clientapi.Config, overrides resource.PropertyMap) (*clientapi.Cluster, bool) {
	if config == nil || len(config.Clusters) == 0 {
		return &clientapi.Cluster{}, false
	}
	current := config.CurrentContext
	if v := unwrap(overrides["context"]); v.IsString() {
		current = v.StringValue()
	}
	ctx := config.Contexts[current]
	if ctx == nil {
		return &clientapi.Cluster{}, false
	}
	cluster := config.Clusters[ctx.Cluster]
	if v := unwrap(overrides["cluster"]); v.IsString() {
		cluster = config.Clusters[v.StringValue()]
	}
	if cluster == nil {
		return &clientapi.Cluster{}, false
	}
	return cluster, true
}

// configChanges is upstream's DiffConfig decision: a computed kubeconfig, context or cluster
// replaces; otherwise every changed key is a diff, and kubeconfig/context/cluster replace only when
// the active cluster entry (server, CA, TLS server name, ...) changed. `clusterIdentifier`, when set
// and unchanged, turns every replacement into an update; when changed, it replaces.
func configChanges(olds, news resource.PropertyMap) (diffs, replaces []string, err error) {
	diff := olds.Diff(news)
	if diff == nil {
		return nil, nil, nil
	}
	for _, key := range []resource.PropertyKey{"kubeconfig", "context", "cluster"} {
		if news[key].IsComputed() || (news[key].IsSecret() && news[key].SecretValue().Element.IsComputed()) {
			return []string{string(key)}, []string{string(key)}, nil
		}
	}
	if diff.Updated("clusterIdentifier") {
		replaces = append(replaces, "clusterIdentifier")
	}
	oldConfig, err := parseKubeconfigValue(olds["kubeconfig"])
	if err != nil {
		return nil, nil, err
	}
	newConfig, err := parseKubeconfigValue(news["kubeconfig"])
	if err != nil {
		return nil, nil, err
	}
	for _, key := range diff.ChangedKeys() {
		diffs = append(diffs, string(key))
	}
	oldCluster, oldFound := activeCluster(oldConfig, olds)
	newCluster, newFound := activeCluster(newConfig, news)
	if oldFound && newFound && !reflect.DeepEqual(oldCluster, newCluster) {
		for _, key := range []string{"kubeconfig", "context", "cluster"} {
			if slices.Contains(diffs, key) {
				replaces = append(replaces, key)
			}
		}
	}
	if diff.Same("clusterIdentifier") && news.HasValue("clusterIdentifier") {
		replaces = nil
	}
	return diffs, replaces, nil
}

// cluster is the connection Configure makes: unreachable (with upstream's reason) when the
// kubeconfig does not parse or load, or the API server does not serve its OpenAPI document.
type cluster struct {
	client            dynamic.Interface
	unreachable       bool
	unreachableReason string
}

func connect(vars map[string]string, s *settings, userAgent string) (*cluster, error) {
	overrides := &clientcmd.ConfigOverrides{
		Context:        clientapi.Context{Cluster: vars["kubernetes:config:cluster"], Namespace: s.defaultNamespace},
		CurrentContext: vars["kubernetes:config:context"],
	}
	var kubeconfig clientcmd.ClientConfig
	if text := vars["kubernetes:config:kubeconfig"]; text != "" {
		apiConfig, err := parseKubeconfigString(text)
		if err != nil {
			return &cluster{unreachable: true,
				unreachableReason: fmt.Sprintf("failed to parse kubeconfig data in `kubernetes:config:kubeconfig`- %v", err)}, nil
		}
		kubeconfig = clientcmd.NewDefaultClientConfig(*apiConfig, overrides)
	} else {
		// No kubeconfig input: $KUBECONFIG or ~/.kube/config, as kubectl finds them.
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.DefaultClientConfig = &clientcmd.DefaultClientConfig
		kubeconfig = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	}
	if ns, _, err := kubeconfig.Namespace(); err == nil {
		s.defaultNamespace = ns
	}

	config, err := kubeconfig.ClientConfig()
	if err != nil {
		return &cluster{unreachable: true, unreachableReason: fmt.Sprintf(
			"unable to load Kubernetes client configuration from kubeconfig file. Make sure you have: \n\n"+
				" \t • set up the provider as per "+
				"https://www.pulumi.com/registry/packages/kubernetes/installation-configuration/ \n\n %v", err)}, nil
	}
	if err := clientSettings(vars, config); err != nil {
		return nil, err
	}
	config.WarningHandler = rest.NoWarnings{}
	config.UserAgent = userAgent

	// Upstream asks for the server version (ignoring failures) and then loads the OpenAPI schema;
	// a failure of the latter is what marks the cluster unreachable.
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, err
	}
	_, _ = disco.ServerVersion()
	if _, err := disco.OpenAPISchema(); err != nil {
		return &cluster{unreachable: true,
			unreachableReason: fmt.Sprintf("unable to load schema information from the API server: %v", err)}, nil
	}
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	return &cluster{client: client}, nil
}

// clientSettings applies `kubeClientSettings` and PULUMI_K8S_CLIENT_*, with upstream's defaults
// (burst 120, QPS 50) instead of client-go's.
func clientSettings(vars map[string]string, config *rest.Config) error {
	var s struct {
		Burst   *int     `json:"burst"`
		QPS     *float64 `json:"qps"`
		Timeout *int     `json:"timeout"`
	}
	if raw, ok := vars["kubernetes:config:kubeClientSettings"]; ok && raw != "" {
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			return fmt.Errorf("failed to unmarshal kubeClientSettings option: %w", err)
		}
	}
	if v := os.Getenv("PULUMI_K8S_CLIENT_BURST"); v != "" && s.Burst == nil {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("invalid value specified for PULUMI_K8S_CLIENT_BURST: %w", err)
		}
		s.Burst = &n
	}
	if v := os.Getenv("PULUMI_K8S_CLIENT_QPS"); v != "" && s.QPS == nil {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("invalid value specified for PULUMI_K8S_CLIENT_QPS: %w", err)
		}
		s.QPS = &f
	}
	if v := os.Getenv("PULUMI_K8S_CLIENT_TIMEOUT"); v != "" && s.Timeout == nil {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("invalid value specified for PULUMI_K8S_CLIENT_TIMEOUT: %w", err)
		}
		s.Timeout = &n
	}
	config.Burst, config.QPS = 120, 50
	if s.Burst != nil {
		config.Burst = *s.Burst
	}
	if s.QPS != nil {
		config.QPS = float32(*s.QPS)
	}
	if s.Timeout != nil {
		config.Timeout = time.Duration(*s.Timeout) * time.Second
	}
	return nil
}
