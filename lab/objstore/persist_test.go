package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRestartKeepsWhatTheAdminAPICreated(t *testing.T) {
	l, p := replicated(t, nil)
	l.mustAdmin("r1", "PUT", "/n/lab/b/src/l", map[string]any{"items": []any{deleteRule("retention", 14, "etcd/")}}, 200)
	write := l.par("r1", "src", map[string]string{"accessType": "AnyObjectWrite", "objectName": "etcd/"})
	read := l.par("r2", "dst", map[string]string{"accessType": "AnyObjectRead", "bucketListingAction": "ListObjects"})
	if r := send(t, "PUT", write.FullPath+"etcd/a", strings.NewReader("a"), nil); r.status != 200 {
		t.Fatalf("PUT: %s", r)
	}
	l.arrives("etcd/a")
	// Changes the previous run had not replicated yet: a write and a delete, held by a pause.
	l.mustAdmin("r1", "POST", "/lab/faults", Faults{ReplicationPaused: true}, 200)
	send(t, "PUT", write.FullPath+"etcd/b", strings.NewReader("b"), nil)
	l.mustAdmin("r1", "DELETE", "/n/lab/b/src/o/etcd/a", nil, 204)

	l.restart() // faults are not kept: the new run replicates

	var policies []policyReply
	l.mustAdmin("r1", "GET", "/n/lab/b/src/replicationPolicies", nil, 200).json(t, &policies)
	if len(policies) != 1 || policies[0].ID != p.ID {
		t.Fatalf("policies after a restart: %+v", policies)
	}
	if r := l.admin("r2", "PUT", "/n/lab/b/dst/o/x", "x"); r.code() != "BucketReadOnly" {
		t.Fatalf("the replica is writable after a restart: %s", r)
	}
	l.mustAdmin("r1", "GET", "/n/lab/b/src/l", nil, 200)
	var pars []map[string]any
	l.mustAdmin("r1", "GET", "/n/lab/b/src/p/", nil, 200).json(t, &pars)
	if len(pars) != 1 || pars[0]["id"] != write.ID {
		t.Fatalf("PARs after a restart: %v", pars)
	}
	// The PARs' secrets still work, on the new addresses.
	if r := send(t, "PUT", l.url("r1", write.AccessURI+"etcd/c"), strings.NewReader("c"), nil); r.status != 200 {
		t.Fatalf("the write PAR after a restart: %s", r)
	}
	l.arrives("etcd/b")
	l.arrives("etcd/c")
	waitFor(t, "the delete made before the restart, in the replica", func() bool { return l.objectStatus("r2", "dst", "etcd/a") == 404 })
	var page listReply
	send(t, "GET", l.url("r2", read.AccessURI), nil, nil).json(t, &page)
	if len(page.Objects) != 2 {
		t.Fatalf("the read PAR lists %v after a restart", page.Objects)
	}
}

func TestStartCleansWhatACrashLeft(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	l.putObject("r1", "b", "x", "kept")
	dir := l.store.bucketDir("r1", "b")
	l.stop()
	leftovers := []string{".upload-123", hashName("y") + ".0000-orphan", hashName("x") + ".meta.tmp"}
	for _, name := range leftovers {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l.start()
	for _, name := range leftovers {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s survived the start", name)
		}
	}
	if got := string(l.mustAdmin("r1", "GET", "/n/lab/b/b/o/x", nil, 200).body); got != "kept" {
		t.Fatalf("object after the start: %q", got)
	}
}

// lab/lab.sh's config: addresses without regions, static buckets, PARs whose id is their secret,
// and a static replication that exists from the start of the world.
func staticConfig(c *Config) {
	c.Regions = nil
	c.Listen = []string{"127.0.0.1:0"}
	c.ReplicationLag = nil
	c.Buckets = []BucketSpec{{Namespace: "lab", Name: "primary", Region: "lab-primary"}, {Namespace: "lab", Name: "standby", Region: "lab-standby"}}
	c.PARs = []PARSpec{
		{ID: "w", Bucket: "primary", AccessType: "AnyObjectWrite", Prefix: "etcd/c1/", Expires: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		{ID: "r", Bucket: "standby", AccessType: "AnyObjectRead", Listing: true, Prefix: "etcd/c1/"},
		{ID: "sw", Bucket: "standby", AccessType: "AnyObjectReadWrite", Listing: true, Prefix: "etcd/c1/"},
		{ID: "old", Bucket: "standby", AccessType: "AnyObjectRead", Listing: true, Prefix: "etcd/c1/", Expires: "2000-01-01T00:00:00Z"},
	}
	c.Replication = []Replication{{Source: "primary", Destination: "standby", LagSeconds: 0.05}}
}

func TestStaticConfigAsTheLabWritesIt(t *testing.T) {
	l := newLab(t, staticConfig)
	w := l.url("", "/p/w/n/lab/b/primary/o/")
	r := l.url("", "/p/r/n/lab/b/standby/o/")
	cases := []struct {
		name, method, target string
		want                 int
	}{
		{"write PAR puts", "PUT", w + "etcd/c1/s1/manifest.json", 200},
		{"write PAR reads", "GET", w + "etcd/c1/s1/manifest.json", 404},
		{"write PAR outside its prefix", "PUT", w + "other/x", 404},
		{"replication is asynchronous", "GET", r + "etcd/c1/s1/manifest.json", 404},
		{"the replica refuses writes", "PUT", l.url("", "/p/sw/n/lab/b/standby/o/etcd/c1/x"), 409},
		{"an expired PAR", "GET", l.url("", "/p/old/n/lab/b/standby/o/"), 404},
		{"a PAR on another bucket", "GET", l.url("", "/p/r/n/lab/b/primary/o/"), 404},
		{"the wrong namespace", "GET", l.url("", "/p/r/n/WRONGNS/b/standby/o/?prefix=etcd/"), 404},
	}
	for _, c := range cases {
		if got := send(t, c.method, c.target, strings.NewReader("{}"), nil); got.status != c.want {
			t.Errorf("%s: want %d, got %s", c.name, c.want, got)
		}
	}
	waitFor(t, "replication", func() bool { return send(t, "GET", r+"etcd/c1/s1/manifest.json", nil, nil).status == 200 })
	var page listReply
	send(t, "GET", r+"?prefix=etcd/c1/&fields=name,size", nil, nil).json(t, &page)
	if len(page.Objects) != 1 || page.Objects[0]["size"] != float64(2) {
		t.Fatalf("listing %v", page.Objects)
	}
}

func TestStaticReplicationCoversObjectsFromBeforeARestart(t *testing.T) {
	l := newLab(t, func(c *Config) {
		staticConfig(c)
		c.Replication = nil
	})
	if got := send(t, "PUT", l.url("", "/p/w/n/lab/b/primary/o/etcd/c1/s1/manifest.json"), strings.NewReader("{}"), nil); got.status != 200 {
		t.Fatalf("PUT: %s", got)
	}
	l.stop()
	staticConfig(l.cfg)
	l.start()
	waitFor(t, "the object written before the static policy's restart", func() bool {
		return send(t, "GET", l.url("", "/p/r/n/lab/b/standby/o/etcd/c1/s1/manifest.json"), nil, nil).status == 200
	})
}

func TestStaticPolicyEndedByMakeBucketWritableStaysEnded(t *testing.T) {
	l := newLab(t, func(c *Config) {
		staticConfig(c)
		c.Regions = []RegionSpec{{Name: "lab-primary", Listen: addresses{"127.0.0.1:0"}}, {Name: "lab-standby", Listen: addresses{"127.0.0.1:0"}}}
	})
	if r := l.admin("lab-standby", "DELETE", "/n/lab/b/standby", nil); r.status != 409 {
		t.Fatalf("deleting a static bucket: %s", r)
	}
	l.mustAdmin("lab-standby", "POST", "/n/lab/b/standby/actions/makeBucketWritable", nil, 200)
	l.restart()
	if r := l.admin("lab-standby", "PUT", "/n/lab/b/standby/o/etcd/c1/x", "x"); r.status != 200 {
		t.Fatalf("the static replica after makeBucketWritable and a restart: %s", r)
	}
}
