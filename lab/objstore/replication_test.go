package main

import (
	"bytes"
	mrand "math/rand"
	"strings"
	"testing"
	"time"
)

type policyReply struct {
	ID                    string `json:"id"`
	Name                  string `json:"name"`
	DestinationRegionName string `json:"destinationRegionName"`
	DestinationBucketName string `json:"destinationBucketName"`
	TimeCreated           string `json:"timeCreated"`
	TimeLastSync          string `json:"timeLastSync"`
	Status                string `json:"status"`
}

// replicated: bucket src in r1 replicating into dst in r2.
func replicated(t *testing.T, mutate func(*Config)) (*lab, policyReply) {
	l := newLab(t, mutate)
	l.bucket("r1", "src")
	l.bucket("r2", "dst")
	var p policyReply
	l.mustAdmin("r1", "POST", "/n/lab/b/src/replicationPolicies", map[string]string{"name": "to-r2", "destinationRegionName": "r2", "destinationBucketName": "dst"}, 200).json(t, &p)
	return l, p
}

func (l *lab) arrives(name string) {
	l.t.Helper()
	waitFor(l.t, name+" in the replica", func() bool { return l.objectStatus("r2", "dst", name) == 200 })
}

func TestReplicationCoversOnlyWhatIsWrittenAfterThePolicy(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "src")
	l.bucket("r2", "dst")
	l.putObject("r1", "src", "before", "old")
	var p policyReply
	l.mustAdmin("r1", "POST", "/n/lab/b/src/replicationPolicies", map[string]string{"name": "to-r2", "destinationRegionName": "r2", "destinationBucketName": "dst"}, 200).json(t, &p)
	if p.ID == "" || p.Name != "to-r2" || p.DestinationRegionName != "r2" || p.DestinationBucketName != "dst" || p.Status != "ACTIVE" {
		t.Fatalf("created %+v", p)
	}
	l.putObject("r1", "src", "after", "new")
	l.arrives("after")
	time.Sleep(100 * time.Millisecond) // five lags
	if got := l.names("r2", "dst", ""); strings.Join(got, ",") != "after" {
		t.Fatalf("the replica holds %v; an object written before the policy must not be replicated", got)
	}
	// A restart does not backfill either.
	l.restart()
	time.Sleep(100 * time.Millisecond)
	if got := l.names("r2", "dst", ""); strings.Join(got, ",") != "after" {
		t.Fatalf("after a restart the replica holds %v", got)
	}
}

func TestReplicaIsReadOnlyUntilMadeWritable(t *testing.T) {
	l, _ := replicated(t, nil)
	var b struct{ IsReadOnly, ReplicationEnabled bool }
	l.mustAdmin("r2", "GET", "/n/lab/b/dst", nil, 200).json(t, &b)
	if !b.IsReadOnly || b.ReplicationEnabled {
		t.Fatalf("destination %+v", b)
	}
	l.mustAdmin("r1", "GET", "/n/lab/b/src", nil, 200).json(t, &b)
	if b.IsReadOnly || !b.ReplicationEnabled {
		t.Fatalf("source %+v", b)
	}
	l.putObject("r1", "src", "x", "data")
	l.arrives("x")
	rw := l.par("r2", "dst", map[string]string{"accessType": "AnyObjectReadWrite"})
	refusals := []struct {
		name string
		r    reply
	}{
		{"PUT through a PAR", send(t, "PUT", rw.FullPath+"y", strings.NewReader("y"), nil)},
		{"PUT through the admin API", l.admin("r2", "PUT", "/n/lab/b/dst/o/y", "y")},
		{"DELETE through the admin API", l.admin("r2", "DELETE", "/n/lab/b/dst/o/x", nil)},
	}
	for _, c := range refusals {
		if c.r.status != 409 || c.r.code() != "BucketReadOnly" {
			t.Errorf("%s into a replica: want 409 BucketReadOnly, got %s", c.name, c.r)
		}
	}
	var sources []map[string]string
	l.mustAdmin("r2", "GET", "/n/lab/b/dst/replicationSources", nil, 200).json(t, &sources)
	if len(sources) != 1 || sources[0]["sourceBucketName"] != "src" || sources[0]["sourceRegionName"] != "r1" {
		t.Fatalf("replication sources %v", sources)
	}

	l.mustAdmin("r2", "POST", "/n/lab/b/dst/actions/makeBucketWritable", nil, 200)
	l.mustAdmin("r2", "POST", "/n/lab/b/dst/actions/makeBucketWritable", nil, 200) // already writable: no change
	if r := send(t, "PUT", rw.FullPath+"y", strings.NewReader("y"), nil); r.status != 200 {
		t.Fatalf("PUT into a bucket made writable: %s", r)
	}
	var policies []policyReply
	l.mustAdmin("r1", "GET", "/n/lab/b/src/replicationPolicies", nil, 200).json(t, &policies)
	if len(policies) != 0 {
		t.Fatalf("makeBucketWritable leaves the policy: %v", policies)
	}
	l.putObject("r1", "src", "later", "data")
	time.Sleep(100 * time.Millisecond)
	if l.objectStatus("r2", "dst", "later") != 404 {
		t.Fatal("replication went on into a bucket made writable")
	}
}

func TestDeletingThePolicyMakesTheReplicaWritable(t *testing.T) {
	l, p := replicated(t, nil)
	var got policyReply
	l.mustAdmin("r1", "GET", "/n/lab/b/src/replicationPolicies/"+p.ID, nil, 200).json(t, &got)
	if got.ID != p.ID {
		t.Fatalf("GET of the policy: %+v", got)
	}
	// The policy belongs to the source, in the source's region.
	l.mustAdmin("r2", "GET", "/n/lab/b/dst/replicationPolicies/"+p.ID, nil, 404)
	l.mustAdmin("r1", "DELETE", "/n/lab/b/src/replicationPolicies/"+p.ID, nil, 204)
	l.putObject("r2", "dst", "mine", "data")
	l.mustAdmin("r1", "GET", "/n/lab/b/src/replicationPolicies/"+p.ID, nil, 404)
}

func TestReplicaTimeCreatedIsItsOwn(t *testing.T) {
	l, _ := replicated(t, func(c *Config) { c.ReplicationLag = &LagSpec{BaseSeconds: floatp(0.2)} })
	put := l.putObject("r1", "src", "x", "data")
	l.arrives("x")
	listed := func(region, bucketName string) map[string]any {
		var page listReply
		l.mustAdmin(region, "GET", "/n/lab/b/"+bucketName+"/o/?fields=name,size,md5,etag,timeCreated", nil, 200).json(t, &page)
		return page.Objects[0]
	}
	src, dst := listed("r1", "src"), listed("r2", "dst")
	srcTime, _ := time.Parse(time.RFC3339, src["timeCreated"].(string))
	dstTime, _ := time.Parse(time.RFC3339, dst["timeCreated"].(string))
	if dstTime.Sub(srcTime) < 150*time.Millisecond {
		t.Fatalf("replica created %s, source %s: the replica keeps its own creation time, after the lag", dstTime, srcTime)
	}
	if src["md5"] != dst["md5"] || src["etag"] != dst["etag"] || dst["etag"] != put.header.Get("ETag") || src["size"] != dst["size"] {
		t.Fatalf("name, size, MD5 and ETag are replicated: source %v, replica %v", src, dst)
	}
}

func TestReplicationLagGrowsWithSize(t *testing.T) {
	// 20 kB/s: 10 kB take half a second, 10 bytes half a millisecond.
	l, _ := replicated(t, func(c *Config) {
		c.ReplicationLag = &LagSpec{BaseSeconds: floatp(0), BytesPerSecond: 20_000}
	})
	l.putObject("r1", "src", "big/snapshot.db", strings.Repeat("s", 10_000))
	l.putObject("r1", "src", "big/manifest.json", "{}")
	l.arrives("big/manifest.json")
	if l.objectStatus("r2", "dst", "big/snapshot.db") != 404 {
		t.Fatal("the large object arrived with the small one written after it; the lag must grow with size")
	}
	l.arrives("big/snapshot.db")
}

func TestJitterReordersRepeatably(t *testing.T) {
	jitter := 0.4
	// The seed whose second draw comes well before its first: the second object overtakes the first.
	seed := int64(0)
	for s := int64(1); s < 1000 && seed == 0; s++ {
		rng := mrand.New(mrand.NewSource(s))
		if first, second := rng.Float64(), rng.Float64(); first-second > 0.5 {
			seed = s
		}
	}
	lag := &LagSpec{BaseSeconds: floatp(0), JitterSeconds: jitter, Seed: seed}
	l, _ := replicated(t, func(c *Config) { c.ReplicationLag = lag })
	l.putObject("r1", "src", "first", "same size")
	l.putObject("r1", "src", "second", "same size")
	l.arrives("second")
	if l.objectStatus("r2", "dst", "first") != 404 {
		t.Fatalf("with seed %d the second object must arrive first", seed)
	}
	l.arrives("first")

	// The same seed gives the same lags.
	delays := func() []time.Duration {
		d := newLab(t, func(c *Config) { c.ReplicationLag = lag })
		p := &policy{lag: d.cfg.adminLag()}
		d.store.mu.Lock()
		defer d.store.mu.Unlock()
		return []time.Duration{d.store.delayLocked(p, 1, false), d.store.delayLocked(p, 1, false), d.store.delayLocked(p, 0, true)}
	}
	a, b := delays(), delays()
	for i := range a {
		if a[i] != b[i] || a[i] > seconds(jitter) {
			t.Fatalf("seeded lags differ or exceed the jitter: %v and %v", a, b)
		}
	}
}

func TestDeletesPropagateToTheReplica(t *testing.T) {
	l, _ := replicated(t, nil)
	l.putObject("r1", "src", "x", "data")
	l.arrives("x")
	l.mustAdmin("r1", "DELETE", "/n/lab/b/src/o/x", nil, 204)
	waitFor(t, "the delete in the replica", func() bool { return l.objectStatus("r2", "dst", "x") == 404 })
	// Overwrite, delete and write again in a burst: the replica ends as the source does.
	for i := 0; i < 5; i++ {
		l.putObject("r1", "src", "y", strings.Repeat("v", i+1))
		if i%2 == 0 && i < 4 {
			l.mustAdmin("r1", "DELETE", "/n/lab/b/src/o/y", nil, 204)
		}
	}
	waitFor(t, "the last version in the replica", func() bool {
		r := l.admin("r2", "GET", "/n/lab/b/dst/o/y", nil)
		return r.status == 200 && bytes.Equal(r.body, []byte("vvvvv"))
	})
}

func TestPolicyCreation(t *testing.T) {
	l := newLab(t, func(c *Config) {
		c.Regions = append(c.Regions, RegionSpec{Name: "r3", Listen: addresses{"127.0.0.1:0"}})
	})
	for _, b := range [][2]string{{"r1", "a"}, {"r2", "b"}, {"r2", "c"}, {"r3", "d"}, {"r1", "e"}} {
		l.bucket(b[0], b[1])
	}
	l.mustAdmin("r1", "POST", "/n/lab/b/a/replicationPolicies", map[string]string{"name": "a-b", "destinationRegionName": "r2", "destinationBucketName": "b"}, 200)
	policy := func(name, region, bucketName string) map[string]string {
		return map[string]string{"name": name, "destinationRegionName": region, "destinationBucketName": bucketName}
	}
	cases := []struct {
		name, region, source string
		body                 map[string]string
		status               int
		code                 string
	}{
		{"no name", "r1", "e", policy("", "r2", "c"), 400, "MissingParameter"},
		{"no destination region", "r1", "e", policy("p", "", "c"), 400, "MissingParameter"},
		{"no destination bucket", "r1", "e", policy("p", "r2", ""), 400, "MissingParameter"},
		{"an unknown region", "r1", "e", policy("p", "mars-1", "c"), 400, "InvalidParameter"},
		{"a destination that does not exist", "r1", "e", policy("p", "r2", "nothing"), 400, "RelatedResourceNotAuthorizedOrNotFound"},
		{"a destination in another region than named", "r1", "e", policy("p", "r3", "c"), 400, "RelatedResourceNotAuthorizedOrNotFound"},
		{"into itself", "r1", "e", policy("p", "r1", "e"), 400, "InvalidParameter"},
		{"a second policy on a source", "r1", "a", policy("p", "r2", "c"), 409, "Conflict"},
		{"a destination that is a destination", "r1", "e", policy("p", "r2", "b"), 409, "Conflict"},
		{"a destination that is a source", "r3", "d", policy("p", "r1", "a"), 409, "Conflict"},
		{"a source that is a destination", "r2", "b", policy("p", "r3", "d"), 409, "Conflict"},
		{"a source in another region", "r2", "a", policy("p", "r3", "d"), 404, "BucketNotFound"},
	}
	for _, c := range cases {
		if r := l.admin(c.region, "POST", "/n/lab/b/"+c.source+"/replicationPolicies", c.body); r.status != c.status || r.code() != c.code {
			t.Errorf("%s: want %d %s, got %s", c.name, c.status, c.code, r)
		}
	}
	// Within one region is allowed, as in OCI.
	l.mustAdmin("r2", "POST", "/n/lab/b/c/replicationPolicies", policy("c-within", "r2", "b2"), 400)
	l.bucket("r2", "b2")
	l.mustAdmin("r2", "POST", "/n/lab/b/c/replicationPolicies", policy("c-within", "r2", "b2"), 200)
}

func TestFaults(t *testing.T) {
	l, p := replicated(t, nil)
	// A paused replication holds the change, and the policy's timeLastSync stays before it.
	l.mustAdmin("r1", "POST", "/lab/faults", Faults{ReplicationPaused: true}, 200)
	l.putObject("r1", "src", "held", "data")
	var source listReply
	l.mustAdmin("r1", "GET", "/n/lab/b/src/o/?fields=timeCreated", nil, 200).json(t, &source)
	written, _ := time.Parse(time.RFC3339, source.Objects[0]["timeCreated"].(string))
	time.Sleep(100 * time.Millisecond)
	if l.objectStatus("r2", "dst", "held") != 404 {
		t.Fatal("replication went on while paused")
	}
	var got policyReply
	l.mustAdmin("r1", "GET", "/n/lab/b/src/replicationPolicies/"+p.ID, nil, 200).json(t, &got)
	if sync, _ := time.Parse(time.RFC3339, got.TimeLastSync); sync.After(written) {
		t.Fatalf("timeLastSync %s is after a change that has not arrived (%s)", got.TimeLastSync, written)
	}
	l.mustAdmin("r1", "POST", "/lab/faults", Faults{}, 200)
	l.arrives("held")
	l.mustAdmin("r1", "GET", "/n/lab/b/src/replicationPolicies/"+p.ID, nil, 200).json(t, &got)
	if sync, _ := time.Parse(time.RFC3339, got.TimeLastSync); !sync.After(written) {
		t.Fatalf("timeLastSync %s did not move past the change that arrived", got.TimeLastSync)
	}

	// The source region goes down: its endpoint answers nothing, replication waits, and the
	// replica can still be made writable from its own region (the failover of F08).
	if r := l.admin("r1", "POST", "/lab/faults", Faults{UnreachableRegions: []string{"mars-1"}}); r.status != 400 {
		t.Fatalf("faults naming an unknown region: %s", r)
	}
	l.putObject("r1", "src", "stuck", "data")
	l.mustAdmin("r1", "POST", "/lab/faults", Faults{UnreachableRegions: []string{"r1"}}, 200)
	req := strings.NewReader("")
	if _, err := httpClientDo("GET", l.url("r1", "/n/"), req); err == nil {
		t.Fatal("an unreachable region answered")
	}
	time.Sleep(100 * time.Millisecond)
	if l.objectStatus("r2", "dst", "stuck") != 404 {
		t.Fatal("replication out of an unreachable region")
	}
	l.mustAdmin("r2", "POST", "/n/lab/b/dst/actions/makeBucketWritable", nil, 200)
	l.putObject("r2", "dst", "new-primary-backup", "data")
	var faults Faults
	l.mustAdmin("r1", "GET", "/lab/faults", nil, 200).json(t, &faults)
	if len(faults.UnreachableRegions) != 1 {
		t.Fatalf("faults %+v", faults)
	}
	l.mustAdmin("r1", "POST", "/lab/faults", Faults{}, 200)
	time.Sleep(100 * time.Millisecond)
	if l.objectStatus("r2", "dst", "stuck") != 404 {
		t.Fatal("a change held while the source was down arrived after the replica was made writable")
	}
}
