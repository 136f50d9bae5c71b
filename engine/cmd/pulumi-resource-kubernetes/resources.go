package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil/rpcerror"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

const (
	managedByLabel = "app.kubernetes.io/managed-by"
	// The field manager of client-side creates; the first server-side apply takes its fields over.
	csaManager = "pulumi-kubernetes"
)

func (p *kubeProvider) resourceClient(c *cluster, typ, namespace string) dynamic.ResourceInterface {
	k := kinds[typ]
	if k.namespaced {
		return c.client.Resource(k.gvr).Namespace(namespace)
	}
	return c.client.Resource(k.gvr)
}

// Check validates the inputs and fills what upstream fills: an autoname with the
// `pulumi.com/autonamed` annotation when metadata.name is unset (kept across updates), the
// provider's default namespace, and secrets carried onto the checked inputs.
func (p *kubeProvider) Check(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	s, c := p.state()
	if c.unreachable && s.skipUpdateUnreachable {
		p.log(ctx, diag.Warning, req.GetUrn(), "Cluster is unreachable but skipUpdateUnreachable flag is set to true, skipping...")
		return &pulumirpc.CheckResponse{Inputs: req.GetOlds()}, nil
	}
	if _, err := kindOf(req.GetUrn()); err != nil {
		return nil, err
	}
	if !s.serverSideApply {
		return nil, fmt.Errorf("client-side apply (enableServerSideApply: false) is %w", errNotImplemented)
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, fmt.Errorf("check failed because malformed resource inputs: %w", err)
	}
	oldInputs := toObject(olds)
	newInputs := normalize(toObject(news))
	for key := range newInputs.GetAnnotations() {
		if strings.HasPrefix(key, "pulumi.com/") && key != annotationAutonamed && key != annotationPropagation && key != annotationPatchForce {
			return nil, fmt.Errorf("the %q annotation is %w", key, errNotImplemented)
		}
	}

	urn := resource.URN(req.GetUrn())
	if len(oldInputs.Object) > 0 {
		if !isNamed(newInputs, news) && annotation(oldInputs, annotationAutonamed) == trueStr {
			newInputs.SetName(oldInputs.GetName())
			setAnnotation(newInputs, annotationAutonamed, trueStr)
		}
		if oldInputs.GetLabels()[managedByLabel] == "pulumi" {
			labels := newInputs.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels[managedByLabel] = "pulumi"
			newInputs.SetLabels(labels)
		}
	} else if !isNamed(newInputs, news) && !isGenerateName(newInputs, news) {
		name, err := resource.NewUniqueName(req.GetRandomSeed(), urn.Name()+"-", 0, 0, nil)
		if err != nil {
			return nil, err
		}
		if a := req.GetAutonaming(); a != nil {
			switch a.GetMode() {
			case pulumirpc.CheckRequest_AutonamingOptions_DISABLE:
				return nil, errors.New("autonaming is disabled, resource requires the .metadata.name field to be set")
			case pulumirpc.CheckRequest_AutonamingOptions_ENFORCE, pulumirpc.CheckRequest_AutonamingOptions_PROPOSE:
				name = a.GetProposedName()
			}
		}
		newInputs.SetName(name)
		setAnnotation(newInputs, annotationAutonamed, trueStr)
	}
	if isGenerateName(newInputs, news) {
		return nil, errors.New("the `.metadata.generateName` field is not supported in Server-Side Apply mode")
	}
	if s.defaultNamespace != "" && newInputs.GetNamespace() == "" {
		newInputs.SetNamespace(s.defaultNamespace)
	}

	checked := fromObject(newInputs.Object)
	annotateSecrets(checked, news)
	inputs, err := p.marshal(checked)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs}, nil
}

// forceNew are the paths whose change replaces the object: its identity, and a ConfigMap's
// contents unless ConfigMaps are mutable (`enableConfigMapMutable`) and this one is not
// `immutable`.
func forceNew(s settings, obj *unstructured.Unstructured) []string {
	paths := []string{".metadata.name", ".metadata.namespace"}
	immutable, _, _ := unstructured.NestedBool(obj.Object, "immutable")
	if obj.GetKind() == "ConfigMap" && (!s.enableConfigMapMutable || immutable) {
		paths = append(paths, ".binaryData", ".data")
	}
	return paths
}

func canonicalNamespace(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// Diff compares the new inputs with the live object of the state pruned to the old inputs' shape,
// so fields the cluster fills do not show, as the 4.x provider does.
func (p *kubeProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	s, _ := p.state()
	typ, err := kindOf(req.GetUrn())
	if err != nil {
		return nil, err
	}
	oldState, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, fmt.Errorf("diff failed because malformed resource inputs: %w", err)
	}
	newInputs := normalize(toObject(news))
	oldInputs, oldLive := parseCheckpoint(oldState)
	oldInputs = normalize(oldInputs)
	pruned := &unstructured.Unstructured{Object: prune(oldLive.Object, oldInputs.Object)}
	if pruned.Object == nil {
		pruned.Object = map[string]any{}
	}
	if kinds[typ].namespaced {
		pruned.SetNamespace(canonicalNamespace(pruned.GetNamespace()))
		newInputs.SetNamespace(canonicalNamespace(newInputs.GetNamespace()))
	}
	if s.serverSideApply && pruned.GetResourceVersion() != "" {
		pruned.SetResourceVersion("")
	}
	if newInputs.GetName() != "" {
		pruned.SetName(oldLive.GetName())
	}

	changes := pulumirpc.DiffResponse_DIFF_NONE
	var replaces []string
	detailed := map[string]*pulumirpc.PropertyDiff{}
	if patch := mergePatch(pruned.Object, newInputs.Object); len(patch) != 0 {
		pd := newPatchDiff(forceNew(s, newInputs))
		pd.addMap(nil, patch, pruned.Object, newInputs.Object, pruned.Object, false)
		detailed = pd.diff
		for _, ignore := range req.GetIgnoreChanges() {
			ip, err := resource.ParsePropertyPath(ignore)
			if err != nil {
				return nil, fmt.Errorf("failed to parse ignore path: %w", err)
			}
			for path := range detailed {
				if dp, err := resource.ParsePropertyPath(path); err == nil && ip.Contains(dp) {
					delete(detailed, path)
				}
			}
		}
		for path, d := range detailed {
			switch d.GetKind() {
			case pulumirpc.PropertyDiff_ADD_REPLACE, pulumirpc.PropertyDiff_DELETE_REPLACE, pulumirpc.PropertyDiff_UPDATE_REPLACE:
				replaces = append(replaces, path)
			case pulumirpc.PropertyDiff_DELETE:
				if path == "metadata" {
					replaces = append(replaces, path)
				}
			}
		}
		if len(detailed) > 0 {
			changes = pulumirpc.DiffResponse_DIFF_SOME
		}
	}
	// A replacement that must keep the same name and namespace has to delete the old object first.
	deleteBeforeReplace := len(replaces) > 0 && isNamed(newInputs, news) &&
		annotation(newInputs, annotationAutonamed) != trueStr &&
		newInputs.GetName() == oldLive.GetName() && newInputs.GetNamespace() == oldLive.GetNamespace()
	return &pulumirpc.DiffResponse{
		Changes:             changes,
		Replaces:            replaces,
		Stables:             []string{},
		DeleteBeforeReplace: deleteBeforeReplace,
		DetailedDiff:        detailed,
		HasDetailedDiff:     true,
	}, nil
}

// fieldManager is the server-side apply field manager: the `pulumi.com/patchFieldManager`
// annotation, else the one in the state, else a new `pulumi-kubernetes-<8 hex>`.
func fieldManager(state resource.PropertyMap, inputs *unstructured.Unstructured) string {
	if v := annotation(inputs, "pulumi.com/patchFieldManager"); v != "" {
		return v
	}
	if v := unwrap(state[fieldManagerKey]); v.IsString() {
		return v.StringValue()
	}
	name, _ := resource.NewUniqueName(nil, "pulumi-kubernetes-", 0, 0, nil)
	return name
}

func initialAPIVersion(state resource.PropertyMap, inputs *unstructured.Unstructured) string {
	if v := unwrap(state[initialAPIVersionKey]); v.IsString() {
		return v.StringValue()
	}
	return inputs.GetAPIVersion()
}

func isNamespaceNotFound(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !apierrors.IsNotFound(err) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Kind == "namespaces"
}

// Create creates the object (a dry run in previews), retrying "not found" (a namespace that is
// being created) five times with 1, 2, 4, ... s between tries, as upstream's Creation does.
func (p *kubeProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	s, c := p.state()
	typ, err := kindOf(req.GetUrn())
	if err != nil {
		return nil, err
	}
	urn := req.GetUrn()
	if !req.GetPreview() && c.unreachable {
		return nil, fmt.Errorf("configured Kubernetes cluster is unreachable: %s", c.unreachableReason)
	}
	news, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, fmt.Errorf("create failed because malformed resource inputs: %w", err)
	}
	inputs := toObject(news)
	// What cannot be dry-run is previewed as the inputs themselves.
	if req.GetPreview() && (hasComputed(inputs.Object) || c.unreachable) {
		return &pulumirpc.CreateResponse{Properties: req.GetProperties()}, nil
	}
	apiVersion := inputs.GetAPIVersion()
	manager := fieldManager(news, inputs)
	client := p.resourceClient(c, typ, inputs.GetNamespace())

	var live *unstructured.Unstructured
	wait := time.Second
	for try := 0; try <= 5; try++ {
		if s.upsertExistingObjects {
			force := patchForce(inputs, nil, s, req.GetPreview())
			opts := metav1.PatchOptions{FieldManager: manager, Force: &force, FieldValidation: metav1.FieldValidationWarn}
			if req.GetPreview() {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			var body []byte
			if body, err = yaml.Marshal(inputs.Object); err != nil {
				return nil, err
			}
			live, err = client.Patch(ctx, inputs.GetName(), types.ApplyPatchType, body, opts)
			err = applyError(err, manager)
		} else {
			opts := metav1.CreateOptions{FieldManager: csaManager}
			if req.GetPreview() {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			live, err = client.Create(ctx, inputs, opts)
		}
		if err == nil {
			break
		}
		if req.GetPreview() && isNamespaceNotFound(err) {
			break
		}
		p.statusf(ctx, urn, "Retry #%d; creation failed: %v", try, err)
		if !apierrors.IsNotFound(err) {
			break
		}
		time.Sleep(wait)
		wait *= 2
	}
	p.statusf(ctx, urn, "")
	if err != nil {
		if req.GetPreview() && (apierrors.IsForbidden(err) || apierrors.IsAlreadyExists(err) || isNamespaceNotFound(err)) {
			return &pulumirpc.CreateResponse{Properties: req.GetProperties()}, nil
		}
		if apierrors.IsAlreadyExists(err) {
			err = fmt.Errorf("%w\n\n"+
				"The resource already exists in the cluster. This can happen when:\n\n"+
				"  - Renaming a Pulumi resource: use an alias to preserve the identity,\n"+
				"    or use deleteBeforeReplace if the resource needs replacement.\n"+
				"  - Managing an existing resource: use a Patch resource (e.g. NamespacePatch)\n"+
				"    to manage specific fields without owning the resource lifecycle.\n"+
				"  - Adopting a resource into Pulumi: use `pulumi import`. Note that\n"+
				"    protected resources (e.g. kube-system) cannot be deleted on destroy.\n"+
				"  - Intentional upsert: set upsertExistingObjects on the provider to allow\n"+
				"    server-side apply to update existing objects on create.", err)
		}
		return nil, fmt.Errorf("resource %q was not successfully created by the Kubernetes API server: %w", urn, err)
	}
	if req.GetPreview() {
		unstructured.RemoveNestedField(live.Object, "status")
	}
	props, err := p.marshal(checkpoint(inputs, live, news, apiVersion, manager))
	if err != nil {
		return nil, err
	}
	id := ""
	if !req.GetPreview() {
		id = fqName(live.GetNamespace(), live.GetName())
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (p *kubeProvider) statusf(ctx context.Context, urn, format string, args ...any) {
	if p.host != nil {
		_ = p.host.LogStatus(ctx, diag.Info, resource.URN(urn), fmt.Sprintf(format, args...))
	}
}

// readGone is the answer that drops a resource from the state: it no longer exists.
var readGone = &pulumirpc.ReadResponse{}

// Read reads the live object; with no inputs (`.get`, import) its inputs are taken from the live
// object. A missing object leaves the state; an unreachable cluster is an error (a warning first),
// unless deleteUnreachable drops the resource or skipUpdateUnreachable keeps the state.
func (p *kubeProvider) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	s, c := p.state()
	urn := req.GetUrn()
	typ, err := kindOf(urn)
	if err != nil {
		return nil, err
	}
	if c.unreachable {
		p.log(ctx, diag.Warning, urn, "configured Kubernetes cluster is unreachable: "+c.unreachableReason)
		if s.deleteUnreachable {
			p.log(ctx, diag.Info, urn, "configured Kubernetes cluster is unreachable and the `deleteUnreachable` option is enabled. "+
				"Deleting the unreachable resource from Pulumi state")
			return readGone, nil
		}
		if s.skipUpdateUnreachable {
			p.log(ctx, diag.Info, urn, "configured Kubernetes cluster is unreachable and the `skipUnreachable` option is enabled. "+
				"Returned data could not reflect the actual cluster configuration.")
			return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
		}
		return nil, errors.New("failed to read resource state due to unreachable cluster. If the cluster was " +
			"deleted, you can remove this resource from Pulumi state by rerunning the operation with the " +
			"PULUMI_K8S_DELETE_UNREACHABLE environment variable set to \"true\"")
	}
	oldState, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	oldInputsPM, err := unmarshal(req.GetInputs())
	if err != nil {
		return nil, err
	}
	namespace, name := parseFqName(req.GetId())
	if name == "" {
		return nil, fmt.Errorf("failed to read resource because of a failure to parse resource name from request ID: %s", req.GetId())
	}
	oldInputs := normalize(toObject(oldInputsPM))
	_, oldLive := parseCheckpoint(oldState)
	fromCluster := false
	if oldInputs.GroupVersionKind().Empty() {
		if oldLive.GroupVersionKind().Empty() {
			oldInputs.SetAPIVersion("v1")
			oldInputs.SetKind(strings.TrimPrefix(typ, "kubernetes:core/v1:"))
			fromCluster = true
		} else {
			oldInputs.SetGroupVersionKind(oldLive.GroupVersionKind())
		}
		if oldInputs.GetName() == "" {
			oldInputs.SetName(name)
		}
		if oldInputs.GetNamespace() == "" {
			oldInputs.SetNamespace(namespace)
		}
	}
	apiVersion := initialAPIVersion(oldState, oldInputs)
	manager := fieldManager(oldState, oldInputs)

	live, err := p.resourceClient(c, typ, oldInputs.GetNamespace()).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		var status apierrors.APIStatus
		if errors.As(err, &status) && status.Status().Code == 404 {
			return readGone, nil
		}
		return nil, err
	}
	liveInputs := &unstructured.Unstructured{Object: prune(live.Object, oldInputs.Object)}
	if fromCluster {
		// The inputs of a resource read by id are the live object's input properties.
		for _, key := range []string{"apiVersion", "binaryData", "data", "immutable", "kind", "metadata"} {
			if v, ok := live.Object[key]; ok {
				liveInputs.Object[key] = runtime.DeepCopyJSONValue(v)
			}
		}
		for _, field := range []string{"creationTimestamp", "generation", "managedFields", "resourceVersion", "uid"} {
			unstructured.RemoveNestedField(liveInputs.Object, "metadata", field)
		}
		unstructured.RemoveNestedField(liveInputs.Object, "metadata", "annotations", "deployment.kubernetes.io/revision")
		unstructured.RemoveNestedField(liveInputs.Object, "metadata", "annotations", annotationLastApplied)
	}
	id := req.GetId()
	if id == "" {
		id = fqName(live.GetNamespace(), live.GetName())
	}
	props, err := p.marshal(checkpoint(liveInputs, live, oldInputsPM, apiVersion, manager))
	if err != nil {
		return nil, err
	}
	inputsPM := fromObject(liveInputs.Object)
	annotateSecrets(inputsPM, oldInputsPM)
	inputs, err := p.marshal(inputsPM)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: id, Properties: props, Inputs: inputs}, nil
}

// Update applies the new inputs with server-side apply (a dry run in previews), first taking over
// the fields the client-side create left to the `pulumi-kubernetes` manager.
func (p *kubeProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	s, c := p.state()
	urn := req.GetUrn()
	typ, err := kindOf(urn)
	if err != nil {
		return nil, err
	}
	if !req.GetPreview() && c.unreachable {
		return nil, fmt.Errorf("configured Kubernetes cluster is unreachable: %s", c.unreachableReason)
	}
	oldState, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, fmt.Errorf("update failed because malformed resource inputs: %w", err)
	}
	inputs := normalize(toObject(news))
	if req.GetPreview() && (hasComputed(inputs.Object) || c.unreachable) {
		return &pulumirpc.UpdateResponse{Properties: req.GetNews()}, nil
	}
	oldInputs, oldLive := parseCheckpoint(oldState)
	oldInputs = normalize(oldInputs)
	apiVersion := initialAPIVersion(oldState, oldInputs)
	manager := fieldManager(oldState, inputs)
	client := p.resourceClient(c, typ, oldLive.GetNamespace())

	live, applyErr := p.apply(ctx, client, oldLive.GetName(), inputs, manager, s, req.GetPreview())
	if applyErr != nil {
		if req.GetPreview() && apierrors.IsForbidden(applyErr) {
			return &pulumirpc.UpdateResponse{Properties: req.GetNews()}, nil
		}
		var getErr error
		live, getErr = client.Get(ctx, oldLive.GetName(), metav1.GetOptions{})
		if getErr != nil {
			return nil, errors.Join(fmt.Errorf("update of resource %q failed: %w", urn, applyErr),
				fmt.Errorf("unable to get cluster state: %w", getErr))
		}
	}
	props, err := p.marshal(checkpoint(inputs, live, news, apiVersion, manager))
	if err != nil {
		return nil, err
	}
	if applyErr != nil {
		return nil, partialError(fqName(live.GetNamespace(), live.GetName()),
			fmt.Errorf("the Kubernetes API server reported that %q failed to fully initialize or become live: %w",
				fqName(live.GetNamespace(), live.GetName()), applyErr), props)
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *kubeProvider) apply(ctx context.Context, client dynamic.ResourceInterface, name string, inputs *unstructured.Unstructured,
	manager string, s settings, preview bool) (*unstructured.Unstructured, error) {
	live, err := client.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if !preview {
		if live, err = takeOverFields(ctx, client, live, manager); err != nil {
			return nil, err
		}
	}
	body, err := yaml.Marshal(inputs.Object)
	if err != nil {
		return nil, err
	}
	force := patchForce(inputs, live, s, preview)
	opts := metav1.PatchOptions{FieldManager: manager, Force: &force}
	if preview {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out, err := client.Patch(ctx, name, types.ApplyPatchType, body, opts)
	if err != nil {
		return nil, applyError(err, manager)
	}
	return out, nil
}

// patchForce: the `pulumi.com/patchForce` annotation or enablePatchForce; in previews also when
// there is no live object yet or a client-side manager of this provider still owns fields (a real
// update takes them over first); and for objects that record no managed fields at all.
func patchForce(inputs, live *unstructured.Unstructured, s settings, preview bool) bool {
	if annotation(inputs, annotationPatchForce) == trueStr || s.enablePatchForce {
		return true
	}
	if preview {
		if live == nil {
			return true
		}
		for _, f := range live.GetManagedFields() {
			if f.Operation == metav1.ManagedFieldsOperationUpdate &&
				(f.Manager == "pulumi-resource-kubernetes" || f.Manager == csaManager || f.Manager == "pulumi-kubernetes.exe") {
				return true
			}
		}
	}
	return live != nil && len(live.GetManagedFields()) == 0
}

func applyError(err error, manager string) error {
	if err == nil || !apierrors.IsConflict(err) {
		return err
	}
	return errors.Join(
		errors.New("server-side apply field conflict detected, see https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/"+
			"managing-resources-with-server-side-apply/#handle-field-conflicts-on-existing-resources for troubleshooting help"),
		fmt.Errorf("The resource managed by field manager %q had an apply conflict: %w", manager, err)) //nolint:staticcheck // upstream's text
}

func partialError(id string, err error, state *structpb.Struct) error {
	detail := pulumirpc.ErrorResourceInitFailed{Id: id, Properties: state, Reasons: []string{err.Error()}}
	return rpcerror.WithDetails(rpcerror.New(codes.Unknown, err.Error()), &detail)
}

// Delete deletes with foreground propagation (the `pulumi.com/deletionPropagationPolicy`
// annotation may say orphan or background) and waits until the object is gone: with foreground
// propagation that is when the garbage collector has removed its dependents and its finalizer.
func (p *kubeProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	s, c := p.state()
	urn := req.GetUrn()
	typ, err := kindOf(urn)
	if err != nil {
		return nil, err
	}
	oldState, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	oldInputs, current := parseCheckpoint(oldState)
	_, name := parseFqName(req.GetId())
	if c.unreachable {
		p.log(ctx, diag.Warning, urn, "configured Kubernetes cluster is unreachable: "+c.unreachableReason)
		if s.deleteUnreachable {
			p.log(ctx, diag.Info, urn, "configured Kubernetes cluster is unreachable and the `deleteUnreachable` option is enabled. "+
				"Deleting the unreachable resource from Pulumi state")
			return &emptypb.Empty{}, nil
		}
		return nil, errors.New("configured Kubernetes cluster is unreachable. If the cluster was deleted, " +
			"you can remove this resource from Pulumi state by rerunning the operation with the " +
			"PULUMI_K8S_DELETE_UNREACHABLE environment variable set to \"true\"")
	}
	policy := metav1.DeletePropagationForeground
	switch strings.ToLower(annotation(oldInputs, annotationPropagation)) {
	case "orphan":
		policy = metav1.DeletePropagationOrphan
	case "background":
		policy = metav1.DeletePropagationBackground
	}
	client := p.resourceClient(c, typ, current.GetNamespace())
	if err := client.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		if apierrors.IsNotFound(err) {
			return &emptypb.Empty{}, nil
		}
		return nil, err
	}
	timeout := 10 * time.Minute
	if t := req.GetTimeout(); t > 0 {
		timeout = time.Duration(t * float64(time.Second))
	}
	deadline := time.Now().Add(timeout)
	for {
		_, err := client.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			p.statusf(ctx, urn, "")
			return &emptypb.Empty{}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out waiting for %s %q to be deleted", describe(current), fqName(current.GetNamespace(), name))
		}
		p.statusf(ctx, urn, "waiting for the object to be deleted")
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
