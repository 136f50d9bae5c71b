package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// missing marks a key that is absent, as opposed to present with a null value.
type missingT struct{}

var missing = missingT{}

func get(m map[string]any, k string) any {
	if v, ok := m[k]; ok {
		return v
	}
	return missing
}

// mergePatch is the JSON merge patch (RFC 7386) that turns old into new: changed keys with their
// new values (objects recursively), removed keys as null. An unknown value patches to null.
func mergePatch(old, new map[string]any) map[string]any {
	patch := map[string]any{}
	for k, nv := range new {
		ov, had := old[k]
		if _, unknown := nv.(resource.Computed); unknown {
			patch[k] = nil
			continue
		}
		if had {
			om, oldIsMap := ov.(map[string]any)
			nm, newIsMap := nv.(map[string]any)
			if oldIsMap && newIsMap {
				if sub := mergePatch(om, nm); len(sub) > 0 {
					patch[k] = sub
				}
				continue
			}
			if jsonEqual(ov, nv) {
				continue
			}
		}
		patch[k] = nv
	}
	for k := range old {
		if _, kept := new[k]; !kept {
			patch[k] = nil
		}
	}
	return patch
}

// jsonEqual compares decoded JSON values; numbers compare by value whatever their Go type.
func jsonEqual(a, b any) bool {
	switch ta := a.(type) {
	case map[string]any:
		tb, ok := b.(map[string]any)
		if !ok || len(ta) != len(tb) {
			return false
		}
		for k, v := range ta {
			w, ok := tb[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		tb, ok := b.([]any)
		if !ok || len(ta) != len(tb) {
			return false
		}
		for i := range ta {
			if !jsonEqual(ta[i], tb[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b) || equalNumbers(a, b)
}

func equalNumbers(a, b any) bool {
	f := func(v any) (float64, bool) {
		switch n := v.(type) {
		case int64:
			return float64(n), true
		case int:
			return float64(n), true
		case float64:
			return n, true
		}
		return 0, false
	}
	x, ok1 := f(a)
	y, ok2 := f(b)
	return ok1 && ok2 && x == y
}

// patchDiff turns a merge patch into the engine's detailed diff the way upstream's
// convertPatchToDiff does: a property path per changed leaf, ADD/UPDATE/DELETE, made a
// replacement when one of the force-new paths (".metadata.name", ".data", ...) is in the patch
// below that path.
type patchDiff struct {
	forceNew [][]string
	diff     map[string]*pulumirpc.PropertyDiff
}

func newPatchDiff(forceNew []string) *patchDiff {
	pd := &patchDiff{diff: map[string]*pulumirpc.PropertyDiff{}}
	for _, p := range forceNew {
		pd.forceNew = append(pd.forceNew, strings.Split(strings.TrimPrefix(p, "."), "."))
	}
	return pd
}

func (pd *patchDiff) addMap(path []any, patch, old, newInput, oldInput map[string]any, inArray bool) {
	keys := make([]string, 0, len(patch))
	for k := range patch {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pd.addValue(append(append([]any{}, path...), k), patch[k], get(old, k), get(newInput, k), get(oldInput, k))
	}
	if inArray {
		for k, v := range old {
			if _, ok := patch[k]; ok {
				continue
			}
			pd.addValue(append(append([]any{}, path...), k), nil, v, get(newInput, k), get(oldInput, k))
		}
	}
}

func (pd *patchDiff) addList(path []any, patch, old, newInput, oldInput []any) {
	at := func(l []any, i int) any {
		if i < len(l) {
			return l[i]
		}
		return nil
	}
	i := 0
	for ; i < len(patch) && i < len(old); i++ {
		pd.addValueIn(append(append([]any{}, path...), i), patch[i], old[i], at(newInput, i), at(oldInput, i), true)
	}
	for ; i < len(patch); i++ {
		pd.addValueIn(append(append([]any{}, path...), i), patch[i], missing, at(newInput, i), at(oldInput, i), true)
	}
	for ; i < len(old); i++ {
		pd.addValueIn(append(append([]any{}, path...), i), nil, old[i], at(newInput, i), at(oldInput, i), true)
	}
}

func (pd *patchDiff) addValue(path []any, v, old, newInput, oldInput any) {
	pd.addValueIn(path, v, old, newInput, oldInput, false)
}

func (pd *patchDiff) addValueIn(path []any, v, old, newInput, oldInput any, inArray bool) {
	// Without a new input only a delete of an old input is a change; the rest is server-filled.
	if newInput == missing && (v != nil || oldInput == missing) {
		return
	}
	var kind pulumirpc.PropertyDiff_Kind
	inputDiff := false
	switch {
	case v == nil:
		if _, unknown := newInput.(resource.Computed); unknown {
			kind = pulumirpc.PropertyDiff_UPDATE
			if old == missing {
				kind = pulumirpc.PropertyDiff_ADD
			}
		} else {
			kind, inputDiff = pulumirpc.PropertyDiff_DELETE, true
		}
	case old == missing:
		kind = pulumirpc.PropertyDiff_ADD
	default:
		switch tv := v.(type) {
		case map[string]any:
			if om, ok := old.(map[string]any); ok {
				nm, _ := newInput.(map[string]any)
				oim, _ := oldInput.(map[string]any)
				pd.addMap(path, tv, om, nm, oim, inArray)
				return
			}
		case []any:
			if ol, ok := old.([]any); ok {
				nl, _ := newInput.([]any)
				oil, _ := oldInput.([]any)
				pd.addList(path, tv, ol, nl, oil)
				return
			}
		default:
			if jsonEqual(v, old) {
				return
			}
		}
		kind = pulumirpc.PropertyDiff_UPDATE
	}
	if pd.forcesNew(path, v) {
		switch kind {
		case pulumirpc.PropertyDiff_ADD:
			kind = pulumirpc.PropertyDiff_ADD_REPLACE
		case pulumirpc.PropertyDiff_DELETE:
			kind = pulumirpc.PropertyDiff_DELETE_REPLACE
		case pulumirpc.PropertyDiff_UPDATE:
			kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
		}
	}
	pd.diff[propertyPath(path)] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: inputDiff}
}

// forcesNew is upstream's JSONPath test: is one of the force-new paths present in the patch made of
// just this path and value?
func (pd *patchDiff) forcesNew(path []any, v any) bool {
	for _, fn := range pd.forceNew {
		if pathIn(fn, path, v) {
			return true
		}
	}
	return false
}

func pathIn(want []string, path []any, v any) bool {
	for i, seg := range want {
		if i < len(path) {
			if s, ok := path[i].(string); !ok || s != seg {
				return false
			}
			continue
		}
		// Past the changed path: the rest must be inside its value (a null value counts).
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		var has bool
		if v, has = m[seg]; !has {
			return false
		}
	}
	return true
}

// propertyPath writes a path the engine's way: a.b, a["k.with.dots"], a[0].
func propertyPath(path []any) string {
	out := ""
	for _, p := range path {
		switch t := p.(type) {
		case string:
			switch {
			case strings.ContainsAny(t, `."[]`):
				out = fmt.Sprintf(`%s["%s"]`, out, strings.ReplaceAll(t, `"`, `\"`))
			case out != "":
				out = out + "." + t
			default:
				out = t
			}
		case int:
			out = fmt.Sprintf("%s[%d]", out, t)
		}
	}
	return out
}
