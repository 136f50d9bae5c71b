package main

import (
	"strings"
	"testing"
	"time"
)

func deleteRule(name string, days int64, prefixes ...string) map[string]any {
	rule := map[string]any{"name": name, "action": "DELETE", "target": "objects", "timeAmount": days, "timeUnit": "DAYS", "isEnabled": true}
	if len(prefixes) > 0 {
		rule["objectNameFilter"] = map[string]any{"inclusionPrefixes": prefixes}
	}
	return rule
}

func TestLifecycleDeletesInTheSourceAndTheDeleteReplicates(t *testing.T) {
	// A day of 300ms, rules looked at every 20ms.
	l, _ := replicated(t, func(c *Config) {
		c.DayLengthSeconds = 0.3
		c.LifecycleIntervalSeconds = 0.02
	})
	l.mustAdmin("r1", "PUT", "/n/lab/b/src/l", map[string]any{"items": []any{deleteRule("retention", 1, "etcd/")}}, 200)
	// The replica's own rule does nothing: a read-only bucket is changed only by replication.
	l.mustAdmin("r2", "PUT", "/n/lab/b/dst/l", map[string]any{"items": []any{deleteRule("everything", 1)}}, 200)
	l.putObject("r1", "src", "etcd/old", "old")
	l.putObject("r1", "src", "keep/old", "old")
	l.arrives("etcd/old")
	l.arrives("keep/old")
	waitFor(t, "the lifecycle delete in the source", func() bool { return l.objectStatus("r1", "src", "etcd/old") == 404 })
	l.putObject("r1", "src", "etcd/new", "new")
	if l.objectStatus("r1", "src", "etcd/new") != 200 {
		t.Fatal("an object younger than the rule's age was deleted")
	}
	waitFor(t, "the lifecycle delete in the replica", func() bool { return l.objectStatus("r2", "dst", "etcd/old") == 404 })
	time.Sleep(400 * time.Millisecond) // more than a day
	if l.objectStatus("r1", "src", "keep/old") != 200 || l.objectStatus("r2", "dst", "keep/old") != 200 {
		t.Fatal("a rule deleted outside its inclusionPrefixes, or the replica's own rule acted on a read-only bucket")
	}
}

func TestLifecycleCountsDaysOfTheEmulatorsClock(t *testing.T) {
	l := newLab(t, func(c *Config) { c.LifecycleIntervalSeconds = 0.02 })
	l.bucket("r1", "b")
	l.mustAdmin("r1", "PUT", "/n/lab/b/b/l", map[string]any{"items": []any{deleteRule("two-weeks", 14), map[string]any{"name": "off", "action": "DELETE", "timeAmount": 1, "timeUnit": "DAYS", "isEnabled": false}}}, 200)
	l.putObject("r1", "b", "x", "data")
	l.advance(13 * 24 * time.Hour)
	time.Sleep(100 * time.Millisecond)
	if l.objectStatus("r1", "b", "x") != 200 {
		t.Fatal("deleted after 13 of 14 days (or by a disabled rule)")
	}
	l.advance(24 * time.Hour)
	waitFor(t, "the delete after 14 days", func() bool { return l.objectStatus("r1", "b", "x") == 404 })
}

func TestLifecyclePolicyAPI(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	if r := l.admin("r1", "GET", "/n/lab/b/b/l", nil); r.status != 404 {
		t.Fatalf("GET before PUT: %s", r)
	}
	rule := func(change func(map[string]any)) map[string]any {
		r := deleteRule("r", 1, "etcd/")
		change(r)
		return map[string]any{"items": []any{r}}
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"no items", map[string]any{}, 400, "MissingParameter"},
		{"a rule without a name", rule(func(r map[string]any) { delete(r, "name") }), 400, "MissingParameter"},
		{"two rules of one name", map[string]any{"items": []any{deleteRule("r", 1), deleteRule("r", 2)}}, 400, "InvalidParameter"},
		{"no action", rule(func(r map[string]any) { delete(r, "action") }), 400, "MissingParameter"},
		{"ARCHIVE (not modelled)", rule(func(r map[string]any) { r["action"] = "ARCHIVE" }), 400, "InvalidParameter"},
		{"multipart uploads (not modelled)", rule(func(r map[string]any) { r["target"] = "multipart-uploads" }), 400, "InvalidParameter"},
		{"zero days", rule(func(r map[string]any) { r["timeAmount"] = 0 }), 400, "InvalidParameter"},
		{"hours", rule(func(r map[string]any) { r["timeUnit"] = "HOURS" }), 400, "InvalidParameter"},
		{"no isEnabled", rule(func(r map[string]any) { delete(r, "isEnabled") }), 400, "MissingParameter"},
		{"name patterns (not modelled)", rule(func(r map[string]any) { r["objectNameFilter"] = map[string]any{"inclusionPatterns": []string{"*.db"}} }), 400, "InvalidParameter"},
		{"not JSON", "items", 400, "CannotParseRequest"},
	}
	for _, c := range cases {
		if r := l.admin("r1", "PUT", "/n/lab/b/b/l", c.body); r.status != c.status || r.code() != c.code {
			t.Errorf("%s: want %d %s, got %s", c.name, c.status, c.code, r)
		}
	}
	l.mustAdmin("r1", "PUT", "/n/lab/b/b/l", map[string]any{"items": []any{deleteRule("retention", 14, "etcd/")}}, 200)
	got := l.mustAdmin("r1", "GET", "/n/lab/b/b/l", nil, 200)
	if !strings.Contains(string(got.body), `"inclusionPrefixes":["etcd/"]`) || !strings.Contains(string(got.body), `"timeCreated"`) {
		t.Fatalf("GET: %s", got.body)
	}
	l.mustAdmin("r1", "DELETE", "/n/lab/b/b/l", nil, 204)
	l.mustAdmin("r1", "GET", "/n/lab/b/b/l", nil, 404)
}
