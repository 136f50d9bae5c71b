package main

import (
	"bytes"
	"context"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// csaManagers are the field managers whose fields the provider's server-side apply manager takes
// over before its first apply: kubectl's, and this provider's own client-side ones (a create is a
// client-side create under "pulumi-kubernetes"). Without this, the apply conflicts with them.
var csaManagers = []metav1.ManagedFieldsEntry{
	{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply},
	{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate},
	{Manager: "before-first-apply", Operation: metav1.ManagedFieldsOperationUpdate},
	{Manager: csaManager, Operation: metav1.ManagedFieldsOperationUpdate},
	{Manager: "pulumi-kubernetes.exe", Operation: metav1.ManagedFieldsOperationUpdate},
	{Manager: "pulumi-resource-kubernetes", Operation: metav1.ManagedFieldsOperationUpdate},
}

func isCSAManager(e metav1.ManagedFieldsEntry) bool {
	for _, m := range csaManagers {
		if e.Manager == m.Manager && e.Operation == m.Operation {
			return true
		}
	}
	return false
}

// takeOverFields moves the fields of the client-side managers to manager's Apply entry with one
// JSON patch of metadata.managedFields (upstream: await.fixCSAFieldManagers through fluxcd's
// ssa.PatchReplaceFieldsManagers). Nothing is sent when no such manager owns fields.
func takeOverFields(ctx context.Context, client dynamic.ResourceInterface, live *unstructured.Unstructured, manager string) (*unstructured.Unstructured, error) {
	entries := live.GetManagedFields()
	if len(entries) == 0 {
		return live, nil
	}
	taken := &fieldpath.Set{}
	found := false
	kept := make([]metav1.ManagedFieldsEntry, 0, len(entries))
	for _, e := range entries {
		if !isCSAManager(e) || e.FieldsV1 == nil {
			kept = append(kept, e)
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
			return nil, err
		}
		taken = taken.Union(set)
		found = true
	}
	if !found {
		return live, nil
	}
	merged := false
	for i, e := range kept {
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply && e.FieldsV1 != nil {
			set := &fieldpath.Set{}
			if err := set.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
				return nil, err
			}
			raw, err := set.Union(taken).ToJSON()
			if err != nil {
				return nil, err
			}
			kept[i].FieldsV1 = &metav1.FieldsV1{Raw: raw}
			merged = true
		}
	}
	if !merged {
		raw, err := taken.ToJSON()
		if err != nil {
			return nil, err
		}
		now := metav1.Now()
		kept = append(kept, metav1.ManagedFieldsEntry{
			Manager: manager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: live.GetAPIVersion(),
			Time: &now, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: raw},
		})
	}
	patch, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/metadata/managedFields", "value": kept}})
	if err != nil {
		return nil, err
	}
	return client.Patch(ctx, live.GetName(), types.JSONPatchType, patch, metav1.PatchOptions{})
}
