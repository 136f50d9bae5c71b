// pulumi-language-nodejs: the offline Node.js language host for etcd-dr's tests and lab.
//
// The upstream host (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs, v3.259.0) is
// its own Go module that this machine's module proxy does not serve, so the project builds this
// one against the same SDK. It answers the RPCs `pulumi` makes of a language host the way upstream
// does: Run starts the program with @pulumi/pulumi's own runner, GetRequiredPackages reports the
// provider packages in node_modules, About and GetProgramDependencies describe the runtime and the
// lock file, InstallDependencies runs the package manager. engine/README.md lists the behaviours,
// where upstream implements each, and the test that holds it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blang/semver"
	"github.com/google/shlex"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set at build time to the @pulumi/pulumi version in package.json.
var version = "0.0.0"

const (
	// The runner a program starts with; PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides it, as upstream.
	defaultRunPath = "@pulumi/pulumi/cmd/run"
	// @pulumi/pulumi's exit code for "the error was already reported to the user".
	exitBail   = 32
	oomMessage = "Detected a possible out of memory error. Consider increasing the memory available to the nodejs process " +
		"by setting the `nodeargs` runtime option in Pulumi.yaml to `nodeargs: --max-old-space-size=<size>` where " +
		"`<size>` is the maximum memory in megabytes that can be allocated to nodejs. " +
		"See https://www.pulumi.com/docs/concepts/projects/project-file/#runtime-options"
)

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	mu            sync.Mutex
	engineAddress string
	tracing       string
	cancelCtx     context.Context
	cancel        context.CancelFunc
}

func (h *languageHost) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

func (h *languageHost) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	if err := rpcutil.Healthcheck(ctx, req.GetEngineAddress(), 5*time.Minute, cancel); err != nil {
		return nil, fmt.Errorf("could not start health check host RPC server: %w", err)
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// GetRequiredPlugins is superseded by GetRequiredPackages; upstream no longer implements it.
func (h *languageHost) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return nil, status.Errorf(codes.Unimplemented, "method GetRequiredPlugins not implemented")
}

type nodeOptions struct {
	typescript     bool
	tsconfigpath   string
	nodeargs       string
	packagemanager npm.PackageManagerType
	production     bool
}

// parseOptions reads the `runtime.options` of Pulumi.yaml with upstream's defaults and errors.
func parseOptions(options map[string]any) (nodeOptions, error) {
	opts := nodeOptions{typescript: true, packagemanager: npm.AutoPackageManager}
	if v, ok := options["typescript"]; ok {
		b, ok := v.(bool)
		if !ok {
			return opts, errors.New("typescript option must be a boolean")
		}
		opts.typescript = b
	}
	if v, ok := options["tsconfig"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("tsconfigpath option must be a string")
		}
		opts.tsconfigpath = s
	}
	if v, ok := options["nodeargs"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("nodeargs option must be a string")
		}
		opts.nodeargs = s
	}
	if v, ok := options["production"]; ok {
		b, ok := v.(bool)
		if !ok {
			return opts, errors.New("production option must be a boolean")
		}
		opts.production = b
	}
	if v, ok := options["packagemanager"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("packagemanager option must be a string")
		}
		switch s {
		case "auto", "npm", "yarn", "pnpm", "bun":
			opts.packagemanager = npm.PackageManagerType(s)
		default:
			return opts, fmt.Errorf("packagemanager option must be one of auto, npm, yarn, pnpm or bun, got %q", s)
		}
	}
	return opts, nil
}

func optionsOf(info *pulumirpc.ProgramInfo) map[string]any {
	if info == nil || info.GetOptions() == nil {
		return map[string]any{}
	}
	return info.GetOptions().AsMap()
}

// locateModule resolves a module the way the program will: with Node's resolution from the program
// directory, so a hoisted or workspace node_modules is found as upstream finds it.
func locateModule(ctx context.Context, mod, programDir, node string) (string, error) {
	script := fmt.Sprintf(`try { console.log(require.resolve('%s')); } catch (error) { `+
		`if (error.code === 'MODULE_NOT_FOUND') { console.error("It looks like the Pulumi SDK has not been installed. Have you run pulumi install?") } `+
		`else { console.error(error.message); } process.exit(1); }`, mod)
	cmd := exec.CommandContext(ctx, node, "-e", script)
	cmd.Dir = programDir
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", errors.New(string(exit.Stderr))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// configJSON presents config keys as <namespace>:config:<name>, the form upstream hands to every
// @pulumi/pulumi version (newer ones also accept <namespace>:<name>).
func configJSON(req *pulumirpc.RunRequest) (string, error) {
	transformed := map[string]string{}
	for k, v := range req.GetConfig() {
		key, err := config.ParseKey(k)
		if err != nil {
			return "", err
		}
		transformed[key.Namespace()+":config:"+key.Name()] = v
	}
	out, err := json.Marshal(transformed)
	return string(out), err
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if h.engine() == "" {
		return nil, errors.New("when debugging or running explicitly, must call Handshake before Run")
	}
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{ProgramDirectory: req.GetPwd(), RootDirectory: req.GetPwd(), EntryPoint: req.GetProgram()}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not find node on the $PATH: %s", err.Error())}, nil
	}
	runPath := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if runPath == "" {
		runPath = defaultRunPath
	}
	runPath, err = locateModule(ctx, runPath, info.GetProgramDirectory(), node)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	cfg, err := configJSON(req)
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("failed to serialize configuration: %v", err)}, nil
	}
	secretKeys := []string{}
	if keys := req.GetConfigSecretKeys(); keys != nil {
		secretKeys = keys
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("failed to serialize configuration secret keys: %v", err)}, nil
	}
	opts, err := parseOptions(optionsOf(info))
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	env := append(os.Environ(), "PULUMI_CONFIG="+cfg, "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfigpath != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfigpath)
	}
	args, err := shlex.Split(opts.nodeargs)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	args = append(args, runPath)
	flagArg := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	// The SDK talks to the engine's monitor directly. Upstream puts a forwarding proxy in between
	// that only tags RegisterResource with "pulumi-runtime: nodejs"; the engine reads the same from
	// the grpc-node-js user agent. Upstream's --sync pipes serve synchronous invokes, which this
	// @pulumi/pulumi never makes.
	flagArg("monitor", req.GetMonitorAddress())
	flagArg("engine", h.engine())
	flagArg("organization", req.GetOrganization())
	flagArg("project", req.GetProject())
	flagArg("root-directory", info.GetRootDirectory())
	flagArg("stack", req.GetStack())
	flagArg("pwd", info.GetProgramDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	flagArg("parallel", strconv.Itoa(int(req.GetParallel())))
	flagArg("tracing", h.tracing)
	args = append(args, info.GetEntryPoint())
	args = append(args, req.GetArgs()...)

	// Cancel (Ctrl-C in `pulumi`) interrupts the program as upstream does, then kills it after 5 s.
	runCtx, stop := context.WithCancel(h.cancelCtx)
	defer stop()
	context.AfterFunc(ctx, stop)
	cmd := exec.CommandContext(runCtx, node, args...)
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = env
	// Node may switch its stdio to non-blocking mode; a wrapper keeps os.Stdout out of its reach.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	oom := &oomSniffer{}
	cmd.Stderr = io.MultiWriter(struct{ io.Writer }{os.Stderr}, oom)

	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exit):
		switch code := exit.ExitCode(); code {
		case 0:
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited unexpectedly: %v", exit)}, nil
		case exitBail:
			return &pulumirpc.RunResponse{Bail: true}, nil
		default:
			msg := fmt.Sprintf("Program exited with non-zero exit code: %d", code)
			if oom.detected() {
				msg += ". " + oomMessage
			}
			return &pulumirpc.RunResponse{Error: msg}, nil
		}
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err)}, nil
	}
}

// oomSniffer spots V8's out-of-memory report (or the debugger assertion that can hide it) on stderr.
type oomSniffer struct {
	mu    sync.Mutex
	tail  string
	found bool
}

func (o *oomSniffer) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	text := o.tail + string(p)
	if strings.Contains(text, "<--- Last few GCs --->") || strings.Contains(text, "Check failed: needs_context && current_scope_ == closure_scope_") {
		o.found = true
	}
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[i+1:]
	}
	if len(text) > 256 {
		text = text[len(text)-256:]
	}
	o.tail = text
	return len(p), nil
}

func (o *oomSniffer) detected() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.found
}

func (h *languageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancel()
	return &emptypb.Empty{}, nil
}

// GetRequiredPackages walks the program's directory for node_modules packages whose package.json
// says `"pulumi": {"resource": true}`, as upstream does: the engine learns from it which provider
// plugins (and versions) the program needs before it runs, and `pulumi about` lists them.
func (h *languageHost) GetRequiredPackages(_ context.Context, req *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	sdkVersions := map[string]semver.Version{}
	packages, errs := packagesIn(req.GetInfo().GetProgramDirectory(), false, sdkVersions, map[string]bool{})
	var firstPath string
	var first semver.Version
	for path, v := range sdkVersions {
		if firstPath == "" {
			firstPath, first = path, v
			continue
		}
		if v.Major != first.Major || (v.Major == 0 && v.Minor != first.Minor) {
			fmt.Fprintf(os.Stderr, "Found incompatible versions of @pulumi/pulumi. Differing major versions are not supported.\n"+
				"  Version %s referenced at %s\n  Version %s referenced at %s\n", first, firstPath, v, path)
			break
		}
	}
	// Upstream only logs what it could not read (at verbosity 3) and reports what it found.
	_ = errs
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
}

type packageJSON struct {
	Name    string                  `json:"name"`
	Version string                  `json:"version"`
	Pulumi  plugin.PulumiPluginJSON `json:"pulumi"`
}

func packagesIn(dir string, inNodeModules bool, sdkVersions map[string]semver.Version, visited map[string]bool) ([]*pulumirpc.PackageDependency, []error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, []error{err}
	}
	if visited[dir] {
		return nil, nil
	}
	visited[dir] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{fmt.Errorf("reading plugin dir %s: %w", dir, err)}
	}
	var packages []*pulumirpc.PackageDependency
	var errs []error
	for _, entry := range entries {
		path := filepath.Join(dir, entry.Name())
		isDir := entry.IsDir()
		if entry.Type()&os.ModeSymlink != 0 {
			resolved, err := filepath.EvalSymlinks(path)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			fi, err := os.Stat(resolved)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			path, isDir = resolved, fi.IsDir()
		}
		switch {
		case isDir:
			// A nested policy pack's plugins are not the program's.
			if pack, err := workspace.DetectPolicyPackPathAt(path); err != nil || pack != "" {
				continue
			}
			more, moreErrs := packagesIn(path, inNodeModules || filepath.Base(dir) == "node_modules", sdkVersions, visited)
			packages, errs = append(packages, more...), append(errs, moreErrs...)
		case inNodeModules && entry.Name() == "package.json":
			pkg, err := readPackage(path, sdkVersions)
			if err != nil {
				errs = append(errs, err)
			} else if pkg != nil {
				packages = append(packages, pkg)
			}
		}
	}
	return packages, errs
}

func readPackage(path string, sdkVersions map[string]semver.Version) (*pulumirpc.PackageDependency, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var info packageJSON
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, fmt.Errorf("unmarshaling package.json %s: %w", path, err)
	}
	if info.Name == "@pulumi/pulumi" {
		if v, err := semver.Parse(info.Version); err == nil {
			sdkVersions[path] = v
		}
	}
	if !info.Pulumi.Resource {
		return nil, nil
	}
	name := info.Pulumi.Name
	if name == "" {
		if !strings.HasPrefix(info.Name, "@pulumi/") {
			return nil, fmt.Errorf("Missing property \"name\" for the third-party plugin '%v' inside package.json under the \"pulumi\" section.", info.Name)
		}
		name = strings.TrimPrefix(info.Name, "@pulumi/")
	}
	pluginVersion := info.Pulumi.Version
	if pluginVersion == "" {
		pluginVersion = info.Version
	}
	if pluginVersion == "" {
		return nil, errors.New("Missing expected \"version\" property")
	}
	if !strings.HasPrefix(pluginVersion, "v") {
		pluginVersion = "v" + pluginVersion
	}
	dep := &pulumirpc.PackageDependency{Name: name, Kind: "resource", Version: pluginVersion, Server: info.Pulumi.Server}
	if p := info.Pulumi.Parameterization; p != nil {
		dep.Parameterization = &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
	}
	if p := info.Pulumi.ExtensionParameterization; p != nil {
		dep.Extension = &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
	}
	return dep, nil
}

// InstallDependencies runs the project's package manager (`pulumi install`), in the npm or yarn
// workspace root when there is one, as upstream does.
func (h *languageHost) InstallDependencies(req *pulumirpc.InstallDependenciesRequest, server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	fmt.Fprint(stdout, "Installing dependencies...\n\n")
	root := req.GetInfo().GetProgramDirectory()
	if ws, err := npm.FindWorkspaceRoot(root); err == nil {
		fmt.Fprintf(stdout, "Detected workspace root at %s\n", ws)
		root = ws
	} else if !errors.Is(err, npm.ErrNotInWorkspace) {
		return fmt.Errorf("failure while trying to find workspace root: %w", err)
	}
	opts, err := parseOptions(optionsOf(req.GetInfo()))
	if err != nil {
		return fmt.Errorf("failed to parse options: %w", err)
	}
	if _, err := npm.Install(server.Context(), opts.packagemanager, root, opts.production, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprint(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}

func (h *languageHost) RuntimeOptionsPrompts(_ context.Context, req *pulumirpc.RuntimeOptionsRequest) (*pulumirpc.RuntimeOptionsResponse, error) {
	var prompts []*pulumirpc.RuntimeOptionPrompt
	if _, has := optionsOf(req.GetInfo())["packagemanager"]; !has {
		prompts = append(prompts, &pulumirpc.RuntimeOptionPrompt{
			Key:         "packagemanager",
			Description: "The package manager to use for installing dependencies",
			PromptType:  pulumirpc.RuntimeOptionPrompt_STRING,
			Choices:     plugin.MakeExecutablePromptChoices("npm", "pnpm", "yarn", "bun"),
			Default:     &pulumirpc.RuntimeOptionPrompt_RuntimeOptionValue{PromptType: pulumirpc.RuntimeOptionPrompt_STRING, StringValue: "npm"},
		})
	}
	return &pulumirpc.RuntimeOptionsResponse{Prompts: prompts}, nil
}

// GetProgramDependencies lists the packages the lock file pins (`pulumi about`).
func (h *languageHost) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	opts, err := parseOptions(optionsOf(req.GetInfo()))
	if err != nil {
		return nil, fmt.Errorf("failed to parse options: %w", err)
	}
	pm, err := npm.ResolvePackageManager(opts.packagemanager, req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, fmt.Errorf("failed to determine package manager: %w", err)
	}
	packages, err := pm.ListPackages(ctx, req.GetInfo().GetProgramDirectory(), req.GetTransitiveDependencies())
	if err != nil {
		return nil, fmt.Errorf("failed to get node dependencies: %w", err)
	}
	deps := make([]*pulumirpc.DependencyInfo, len(packages))
	for i, p := range packages {
		deps[i] = &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version}
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// About reports node, the package manager and the TypeScript the program would load.
func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	opts, err := parseOptions(optionsOf(req.GetInfo()))
	if err != nil {
		return nil, fmt.Errorf("failed to parse options: %w", err)
	}
	pm, err := npm.ResolvePackageManager(opts.packagemanager, req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, fmt.Errorf("could not resolve packagemanager: %w", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find executable %q: %w", "node", err)
	}
	metadata := map[string]string{"packagemanager": pm.Name()}
	if v, err := pm.Version(); err == nil {
		metadata["packagemanagerVersion"] = v.String()
	} else {
		metadata["packagemanagerVersion"] = ""
	}
	ts := exec.CommandContext(ctx, "node", "-e", "console.log(require('typescript/package.json').version)")
	ts.Dir = req.GetInfo().GetProgramDirectory()
	if out, err := ts.Output(); err == nil {
		metadata["typescriptVersion"] = strings.TrimSpace(string(out))
	}
	var nodeVersion string
	if out, err := exec.CommandContext(ctx, "node", "--version").Output(); err == nil {
		nodeVersion = strings.TrimSpace(string(out))
	}
	return &pulumirpc.AboutResponse{Executable: node, Version: nodeVersion, Metadata: metadata}, nil
}

func main() {
	tracing := flag.String("tracing", "", "Emit tracing to a Zipkin-compatible tracing endpoint")
	runtimeName := flag.String("runtime", "nodejs", "Specify the runtime to use for running TypeScript programs")
	showVersion := flag.Bool("version", false, "Print the current plugin version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	if *runtimeName != "nodejs" {
		fmt.Fprintf(os.Stderr, "error: unsupported runtime: %s (etcd-dr's offline host runs nodejs only)\n", *runtimeName)
		os.Exit(1)
	}
	cancelCtx, cancel := context.WithCancel(context.Background())
	host := &languageHost{engineAddress: flag.Arg(0), tracing: *tracing, cancelCtx: cancelCtx, cancel: cancel}

	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt)
	stop := make(chan bool)
	go func() {
		<-ctx.Done()
		stopSignals()
		close(stop)
	}()
	if host.engineAddress != "" {
		// Exit with the engine: a language host must not outlive the `pulumi` process that started it.
		if err := rpcutil.Healthcheck(ctx, host.engineAddress, 5*time.Minute, stopSignals); err != nil {
			fmt.Fprintf(os.Stderr, "error: could not start health check host RPC server: %v\n", err)
			os.Exit(1)
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: could not start language host RPC server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "error: language host RPC stopped serving: %v\n", err)
		os.Exit(1)
	}
}
