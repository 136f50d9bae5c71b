package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func testStore(t *testing.T, lag float64) (*httptest.Server, *Store) {
	t.Helper()
	cfg := &Config{
		DataDir: t.TempDir(),
		Buckets: []BucketSpec{{Namespace: "lab", Name: "primary"}, {Namespace: "lab", Name: "standby"}},
		PARs: []PARSpec{
			{ID: "w", Bucket: "primary", AccessType: "AnyObjectWrite", Prefix: "etcd/c1/"},
			{ID: "r", Bucket: "standby", AccessType: "AnyObjectRead", Listing: true, Prefix: "etcd/c1/"},
			{ID: "sw", Bucket: "standby", AccessType: "AnyObjectReadWrite", Listing: true, Prefix: "etcd/c1/"},
			{ID: "old", Bucket: "standby", AccessType: "AnyObjectRead", Listing: true, Prefix: "etcd/c1/", Expires: "2000-01-01T00:00:00Z"},
		},
		Replication: []Replication{{Source: "primary", Destination: "standby", LagSeconds: lag}},
	}
	store, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(NewHandler(store, time.Now))
	t.Cleanup(func() { server.Close(); store.Close() })
	return server, store
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWriteOnlyPARReplicatesToReadOnlyReplica(t *testing.T) {
	server, _ := testStore(t, 0.2)
	w := server.URL + "/p/w/n/lab/b/primary/o/"
	r := server.URL + "/p/r/n/lab/b/standby/o/"
	if code, _ := do(t, "PUT", w+"etcd/c1/s1/manifest.json", "{}"); code != 200 {
		t.Fatalf("put through the write PAR: %d", code)
	}
	if code, _ := do(t, "GET", w+"etcd/c1/s1/manifest.json", ""); code != 404 {
		t.Fatalf("a write-only PAR must not read, got %d", code)
	}
	if code, _ := do(t, "GET", r+"etcd/c1/s1/manifest.json", ""); code != 404 {
		t.Fatalf("replication must be asynchronous, got %d right away", code)
	}
	waitFor(t, func() bool { code, _ := do(t, "GET", r+"etcd/c1/s1/manifest.json", ""); return code == 200 })
	if code, body := do(t, "PUT", server.URL+"/p/sw/n/lab/b/standby/o/etcd/c1/x", "x"); code != 409 || !strings.Contains(body, "BucketReadOnly") {
		t.Fatalf("the replica must refuse writes, got %d %s", code, body)
	}
}

func TestScopesAndExpiry(t *testing.T) {
	server, _ := testStore(t, 0)
	if code, _ := do(t, "PUT", server.URL+"/p/w/n/lab/b/primary/o/other/x", "x"); code != 404 {
		t.Fatalf("a write outside the PAR prefix must fail, got %d", code)
	}
	if code, _ := do(t, "GET", server.URL+"/p/w/n/lab/b/primary/o/", ""); code != 404 {
		t.Fatalf("a write-only PAR must not list, got %d", code)
	}
	if code, _ := do(t, "GET", server.URL+"/p/old/n/lab/b/standby/o/", ""); code != 404 {
		t.Fatalf("an expired PAR must fail, got %d", code)
	}
	if code, _ := do(t, "GET", server.URL+"/p/nope/n/lab/b/standby/o/", ""); code != 404 {
		t.Fatalf("an unknown PAR must fail, got %d", code)
	}
	if code, _ := do(t, "GET", server.URL+"/p/r/n/lab/b/primary/o/", ""); code != 404 {
		t.Fatalf("a PAR must not reach another bucket, got %d", code)
	}
}

func TestListingPagesInNameOrder(t *testing.T) {
	server, _ := testStore(t, 0)
	for _, name := range []string{"c", "a", "b", "e", "d"} {
		do(t, "PUT", server.URL+"/p/w/n/lab/b/primary/o/etcd/c1/"+name, name)
	}
	r := server.URL + "/p/r/n/lab/b/standby/o/"
	waitFor(t, func() bool {
		_, body := do(t, "GET", r+"?prefix=etcd/c1/", "")
		return strings.Count(body, `"name"`) == 5
	})
	var names []string
	start := ""
	for pages := 0; ; pages++ {
		_, body := do(t, "GET", r+"?prefix=etcd/c1/&limit=2&start="+start, "")
		var page listing
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Objects {
			names = append(names, strings.TrimPrefix(o.Name, "etcd/c1/"))
		}
		if page.NextStartWith == "" {
			if pages != 2 {
				t.Fatalf("expected 3 pages, got %d", pages+1)
			}
			break
		}
		start = page.NextStartWith
	}
	if strings.Join(names, "") != "abcde" {
		t.Fatalf("listing order %v", names)
	}
}

func TestReconcileReplicatesWhatARestartMissed(t *testing.T) {
	cfg := &Config{
		DataDir:     t.TempDir(),
		Buckets:     []BucketSpec{{Name: "primary"}, {Name: "standby"}},
		Replication: []Replication{{Source: "primary", Destination: "standby", LagSeconds: 0}},
	}
	first, err := NewStore(&Config{DataDir: cfg.DataDir, Buckets: cfg.Buckets})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Put("primary", "etcd/c1/s1/manifest.json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	first.Close()
	second, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	second.ReconcileReplicas()
	defer second.Close()
	waitFor(t, func() bool { _, _, err := second.Open("standby", "etcd/c1/s1/manifest.json"); return err == nil })
}
