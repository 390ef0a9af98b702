package oracle

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// DiffPaths lists where two Pods differ, a path per differing value, containers named by their name:
// `spec.containers[sidecar-db].command`.
func DiffPaths(want, got any) []string {
	var a, b any
	for _, pair := range []struct {
		in  any
		out *any
	}{{want, &a}, {got, &b}} {
		text, err := json.Marshal(pair.in)
		if err != nil {
			return []string{err.Error()}
		}
		if err := json.Unmarshal(text, pair.out); err != nil {
			return []string{err.Error()}
		}
	}
	var paths []string
	walk("", a, b, &paths)
	sort.Strings(paths)
	return paths
}

func walk(path string, a, b any, paths *[]string) {
	if reflect.DeepEqual(a, b) {
		return
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		for k := range keys {
			walk(join(path, k), x[k], y[k], paths)
		}
		return
	case []any:
		y, ok := b.([]any)
		if !ok {
			break
		}
		if named(x) && named(y) {
			byName := map[string][2]any{}
			for side, items := range [][]any{x, y} {
				for _, item := range items {
					key := keyOf(item, items)
					entry := byName[key]
					entry[side] = item
					byName[key] = entry
				}
			}
			for name, pair := range byName {
				walk(fmt.Sprintf("%s[%s]", path, name), pair[0], pair[1], paths)
			}
			return
		}
	}
	*paths = append(*paths, path)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func named(items []any) bool {
	for _, item := range items {
		if m, ok := item.(map[string]any); !ok || m["name"] == nil {
			return false
		}
	}
	return len(items) > 0
}

// keyOf names an item of a list by its name, and by its mountPath too when the name repeats (two
// workspaces on one claim share a volume): `ws-1bcf2@/workspace/source`.
func keyOf(item any, items []any) string {
	name, repeats := nameOf(item), 0
	for _, other := range items {
		if nameOf(other) == name {
			repeats++
		}
	}
	if path, ok := item.(map[string]any)["mountPath"].(string); ok && repeats > 1 {
		return name + "@" + path
	}
	return name
}

func nameOf(item any) string {
	m, _ := item.(map[string]any)
	name, _ := m["name"].(string)
	return name
}
