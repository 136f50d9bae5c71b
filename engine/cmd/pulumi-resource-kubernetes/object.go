package main

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The keys upstream adds to a resource's state next to the live object.
const (
	inputsKey            = "__inputs"
	initialAPIVersionKey = "__initialApiVersion"
	fieldManagerKey      = "__fieldManager"

	annotationAutonamed   = "pulumi.com/autonamed"
	annotationPropagation = "pulumi.com/deletionPropagationPolicy"
	annotationPatchForce  = "pulumi.com/patchForce"
	annotationLastApplied = "kubectl.kubernetes.io/last-applied-configuration"
)

func unwrap(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

// Only the schema's `x_kubernetes_*` keys are spelled differently in Pulumi and in Kubernetes.
var underscoreToDash = map[string]string{
	"x_kubernetes_embedded_resource":       "x-kubernetes-embedded-resource",
	"x_kubernetes_int_or_string":           "x-kubernetes-int-or-string",
	"x_kubernetes_list_map_keys":           "x-kubernetes-list-map-keys",
	"x_kubernetes_list_type":               "x-kubernetes-list-type",
	"x_kubernetes_map_type":                "x-kubernetes-map-type",
	"x_kubernetes_preserve_unknown_fields": "x-kubernetes-preserve-unknown-fields",
	"x_kubernetes_validations":             "x-kubernetes-validations",
}

func toDash(k string) (string, bool) {
	v, ok := underscoreToDash[k]
	return v, ok
}

func toUnderscore(k string) (resource.PropertyKey, bool) {
	for u, d := range underscoreToDash {
		if d == k {
			return resource.PropertyKey(u), true
		}
	}
	return "", false
}

func stripSecrets(v resource.PropertyValue) (any, bool) {
	if v.IsSecret() {
		return v.SecretValue().Element.MapRepl(nil, stripSecrets), true
	}
	return nil, false
}

// toObject is a property map as a Kubernetes object: secrets unwrapped, unknowns kept as
// resource.Computed so that hasComputed sees them.
func toObject(pm resource.PropertyMap) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: pm.MapRepl(toDash, stripSecrets)}
}

func fromObject(obj map[string]any) resource.PropertyMap {
	return resource.NewPropertyMapFromMapRepl(obj, toUnderscore, nil)
}

func hasComputed(obj map[string]any) bool {
	var walk func(v any) bool
	walk = func(v any) bool {
		switch t := v.(type) {
		case resource.Computed:
			return true
		case map[string]any:
			for _, e := range t {
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range t {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(obj)
}

// normalize removes the read-only metadata a program may carry over from a live object.
func normalize(obj *unstructured.Unstructured) *unstructured.Unstructured {
	for _, field := range []string{"creationTimestamp", "deletionGracePeriodSeconds", "deletionTimestamp", "generation",
		"managedFields", "resourceVersion", "uid"} {
		unstructured.RemoveNestedField(obj.Object, "metadata", field)
	}
	return obj
}

// prune keeps the parts of live that the shape of inputs has: the diff compares what the program
// said with what the cluster has for exactly those fields.
func prune(live, shape map[string]any) map[string]any {
	if live == nil || shape == nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range live {
		s, ok := shape[k]
		if !ok {
			continue
		}
		if v == nil || s == nil || reflect.TypeOf(v) != reflect.TypeOf(s) {
			out[k] = v
			continue
		}
		switch tv := v.(type) {
		case map[string]any:
			out[k] = prune(tv, s.(map[string]any))
		case []any:
			out[k] = pruneList(tv, s.([]any))
		default:
			out[k] = v
		}
	}
	return out
}

func pruneList(live, shape []any) []any {
	if live == nil || shape == nil {
		return nil
	}
	out := make([]any, 0, len(shape))
	if len(live) == 0 || len(shape) == 0 {
		return out
	}
	if reflect.TypeOf(live[0]) != reflect.TypeOf(shape[0]) {
		return append(out, live...)
	}
	for i, s := range shape {
		if i >= len(live) {
			break
		}
		v := live[i]
		if v == nil || s == nil {
			out = append(out, v)
			continue
		}
		switch tv := v.(type) {
		case map[string]any:
			if m, ok := s.(map[string]any); ok {
				out = append(out, prune(tv, m))
			}
		case []any:
			if l, ok := s.([]any); ok {
				out = append(out, pruneList(tv, l))
			}
		default:
			out = append(out, v)
		}
	}
	return out
}

// annotateSecrets makes secret in outs whatever was secret in ins, descending into objects so a
// secret value taints only its own key; a Secret's data is always secret.
func annotateSecrets(outs, ins resource.PropertyMap) {
	if outs == nil {
		return
	}
	if kind, ok := outs["kind"]; ok && kind.IsString() && kind.StringValue() == "Secret" {
		for _, key := range []resource.PropertyKey{"data", "stringData"} {
			if v, has := outs[key]; has && !v.IsSecret() {
				outs[key] = resource.MakeSecret(v)
			}
		}
		return
	}
	for key, in := range ins {
		out, has := outs[key]
		if !has {
			continue
		}
		if out.IsObject() && in.IsObject() {
			annotateSecrets(out.ObjectValue(), in.ObjectValue())
		} else if !out.IsSecret() && in.ContainsSecrets() {
			outs[key] = resource.MakeSecret(out)
		}
	}
}

// checkpoint is the state upstream records: the live object, the inputs under `__inputs`, the
// apiVersion the resource was created with and its server-side apply field manager.
func checkpoint(inputs, live *unstructured.Unstructured, fromInputs resource.PropertyMap, apiVersion, manager string) resource.PropertyMap {
	object := fromObject(live.Object)
	in := fromObject(inputs.Object)
	annotateSecrets(object, fromInputs)
	annotateSecrets(in, fromInputs)
	object[inputsKey] = resource.NewObjectProperty(in)
	object[initialAPIVersionKey] = resource.NewStringProperty(apiVersion)
	object[fieldManagerKey] = resource.NewStringProperty(manager)
	return object
}

// parseCheckpoint splits a state into the recorded inputs and the live object (older states kept
// them under `inputs` and `live`).
func parseCheckpoint(state resource.PropertyMap) (inputs, live *unstructured.Unstructured) {
	pm := state.MapRepl(toDash, stripSecrets)
	in, hasInputs := pm["inputs"]
	lv, hasLive := pm["live"]
	if !hasInputs || !hasLive {
		lv = pm
		in, hasInputs = pm[inputsKey]
		if hasInputs {
			delete(pm, inputsKey)
		} else {
			in = map[string]any{}
		}
		delete(pm, initialAPIVersionKey)
		delete(pm, fieldManagerKey)
	}
	inMap, _ := in.(map[string]any)
	liveMap, _ := lv.(map[string]any)
	if inMap == nil {
		inMap = map[string]any{}
	}
	if liveMap == nil {
		liveMap = map[string]any{}
	}
	return &unstructured.Unstructured{Object: inMap}, &unstructured.Unstructured{Object: liveMap}
}

// fqName is a resource id: "namespace/name", or the name of a cluster-scoped object.
func fqName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

func parseFqName(id string) (namespace, name string) {
	parts := strings.Split(id, "/")
	if len(parts) == 1 {
		return "", parts[0]
	}
	return parts[0], parts[1]
}

func annotation(obj *unstructured.Unstructured, key string) string {
	return obj.GetAnnotations()[key]
}

func setAnnotation(obj *unstructured.Unstructured, key, value string) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	obj.SetAnnotations(a)
}

// isNamed is true when the program gave a name, also one not known yet.
func isNamed(obj *unstructured.Unstructured, pm resource.PropertyMap) bool {
	if md := unwrap(pm["metadata"]); md.IsObject() {
		if n, ok := md.ObjectValue()["name"]; ok && unwrap(n).IsComputed() {
			return true
		}
	}
	return obj.GetName() != ""
}

func isGenerateName(obj *unstructured.Unstructured, pm resource.PropertyMap) bool {
	if isNamed(obj, pm) {
		return false
	}
	if md := unwrap(pm["metadata"]); md.IsObject() {
		if n, ok := md.ObjectValue()["generateName"]; ok && unwrap(n).IsComputed() {
			return true
		}
	}
	return obj.GetGenerateName() != ""
}

func describe(obj *unstructured.Unstructured) string {
	return fmt.Sprintf("%s/%s", obj.GetAPIVersion(), obj.GetKind())
}
