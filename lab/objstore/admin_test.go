package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAdminNeedsTheToken(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	endpoints := []struct{ method, path string }{
		{"GET", "/n/"},
		{"GET", "/n/lab/b/"},
		{"POST", "/n/lab/b/"},
		{"GET", "/n/lab/b/b"},
		{"DELETE", "/n/lab/b/b"},
		{"GET", "/n/lab/b/b/o/"},
		{"PUT", "/n/lab/b/b/o/x"},
		{"DELETE", "/n/lab/b/b/o/x"},
		{"POST", "/n/lab/b/b/p/"},
		{"GET", "/n/lab/b/b/replicationPolicies"},
		{"POST", "/n/lab/b/b/actions/makeBucketWritable"},
		{"PUT", "/n/lab/b/b/l"},
		{"GET", "/lab/faults"},
		{"POST", "/lab/faults"},
	}
	headers := []map[string]string{
		nil,
		{"Authorization": "Bearer wrong-token"},
		{"Authorization": "Bearer " + testToken + "x"},
		{"Authorization": "Basic " + testToken},
		{"Authorization": testToken},
	}
	for _, e := range endpoints {
		for _, h := range headers {
			if r := send(t, e.method, l.url("r1", e.path), strings.NewReader("{}"), h); r.status != 401 || r.code() != "NotAuthenticated" {
				t.Errorf("%s %s with %v: want 401 NotAuthenticated, got %s", e.method, e.path, h, r)
			}
		}
	}
	if l.objectStatus("r1", "b", "x") != 404 || l.admin("r1", "GET", "/n/lab/b/b", nil).status != 200 {
		t.Fatal("an unauthenticated request changed something")
	}

	off := newLab(t, func(c *Config) { c.AdminTokenFile = "" })
	if r := send(t, "GET", off.url("r1", "/n/"), nil, map[string]string{"Authorization": "Bearer "}); r.status != 401 || !strings.Contains(r.String(), "no adminTokenFile") {
		t.Fatalf("admin API without a token file: %s", r)
	}
}

func TestBuckets(t *testing.T) {
	l := newLab(t, nil)
	var b struct {
		Namespace, Name, Region, CompartmentID, ID, ETag, TimeCreated string
		IsReadOnly, ReplicationEnabled                                bool
	}
	l.mustAdmin("r1", "POST", "/n/lab/b/", map[string]string{"name": "snapshots", "compartmentId": "ocid1.compartment.x"}, 200).json(t, &b)
	if b.Namespace != "lab" || b.Name != "snapshots" || b.Region != "r1" || b.CompartmentID != "ocid1.compartment.x" || b.ID == "" || b.ETag == "" || b.IsReadOnly || b.ReplicationEnabled {
		t.Fatalf("created %+v", b)
	}
	if _, err := time.Parse(time.RFC3339, b.TimeCreated); err != nil {
		t.Fatalf("timeCreated %q", b.TimeCreated)
	}
	cases := []struct {
		name   string
		r      reply
		status int
		code   string
	}{
		{"the same name again", l.admin("r1", "POST", "/n/lab/b/", map[string]string{"name": "snapshots"}), 409, "BucketAlreadyExists"},
		{"no name", l.admin("r1", "POST", "/n/lab/b/", map[string]string{}), 400, "MissingParameter"},
		{"a name with a slash", l.admin("r1", "POST", "/n/lab/b/", map[string]string{"name": "a/b"}), 400, "InvalidParameter"},
		{"a name of 257 characters", l.admin("r1", "POST", "/n/lab/b/", map[string]string{"name": strings.Repeat("a", 257)}), 400, "InvalidParameter"},
		{"a body that is not JSON", l.admin("r1", "POST", "/n/lab/b/", "{"), 400, "CannotParseRequest"},
		{"a bucket of another region", l.admin("r2", "GET", "/n/lab/b/snapshots", nil), 404, "BucketNotFound"},
		{"a bucket that does not exist", l.admin("r1", "GET", "/n/lab/b/nothing", nil), 404, "BucketNotFound"},
		{"deleting a bucket that does not exist", l.admin("r1", "DELETE", "/n/lab/b/nothing", nil), 404, "BucketNotFound"},
		{"a bucket on a region-less address", l.admin("", "POST", "/n/lab/b/", map[string]string{"name": "x"}), 400, "InvalidParameter"},
	}
	for _, c := range cases {
		if c.r.status != c.status || c.r.code() != c.code {
			t.Errorf("%s: want %d %s, got %s", c.name, c.status, c.code, c.r)
		}
	}
	// Names are per region: r2 may have its own "snapshots".
	l.bucket("r2", "snapshots")
	var list []map[string]string
	l.mustAdmin("r1", "GET", "/n/lab/b/?compartmentId=ocid1.compartment.x", nil, 200).json(t, &list)
	if len(list) != 1 || list[0]["name"] != "snapshots" {
		t.Fatalf("buckets of r1: %v", list)
	}
	l.mustAdmin("r1", "HEAD", "/n/lab/b/snapshots", nil, 200)

	// A bucket that holds something is not deleted.
	l.putObject("r1", "snapshots", "x", "data")
	if r := l.admin("r1", "DELETE", "/n/lab/b/snapshots", nil); r.status != 409 || r.code() != "BucketNotEmpty" {
		t.Fatalf("deleting a bucket with an object: %s", r)
	}
	l.mustAdmin("r1", "DELETE", "/n/lab/b/snapshots/o/x", nil, 204)
	p := l.par("r1", "snapshots", map[string]string{"accessType": "AnyObjectWrite"})
	if r := l.admin("r1", "DELETE", "/n/lab/b/snapshots", nil); r.status != 409 {
		t.Fatalf("deleting a bucket with a PAR: %s", r)
	}
	l.mustAdmin("r1", "DELETE", "/n/lab/b/snapshots/p/"+p.ID, nil, 204)
	var policy struct{ ID string }
	l.mustAdmin("r1", "POST", "/n/lab/b/snapshots/replicationPolicies", map[string]string{"name": "p", "destinationRegionName": "r2", "destinationBucketName": "snapshots"}, 200).json(t, &policy)
	for _, region := range []string{"r1", "r2"} {
		if r := l.admin(region, "DELETE", "/n/lab/b/snapshots", nil); r.status != 409 || !strings.Contains(r.String(), "replication policy") {
			t.Fatalf("deleting the %s end of a replication: %s", region, r)
		}
	}
	l.mustAdmin("r1", "DELETE", "/n/lab/b/snapshots/replicationPolicies/"+policy.ID, nil, 204)
	l.mustAdmin("r1", "DELETE", "/n/lab/b/snapshots", nil, 204)
	l.mustAdmin("r1", "GET", "/n/lab/b/snapshots", nil, 404)
	// A new bucket of the same name starts empty.
	l.bucket("r1", "snapshots")
	if got := l.names("r1", "snapshots", ""); len(got) != 0 {
		t.Fatalf("a re-created bucket holds %v", got)
	}
}

func TestPARCreation(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	future := l.now().Add(time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name   string
		body   map[string]string
		status int
		code   string
	}{
		{"no name", map[string]string{"accessType": "AnyObjectRead", "timeExpires": future}, 400, "MissingParameter"},
		{"no access type", map[string]string{"name": "p", "timeExpires": future}, 400, "MissingParameter"},
		{"an unknown access type", map[string]string{"name": "p", "accessType": "AnyObjectDelete", "timeExpires": future}, 400, "InvalidParameter"},
		{"no expiry", map[string]string{"name": "p", "accessType": "AnyObjectRead"}, 400, "MissingParameter"},
		{"an expiry that is not a time", map[string]string{"name": "p", "accessType": "AnyObjectRead", "timeExpires": "tomorrow"}, 400, "InvalidParameter"},
		{"an expiry in the past", map[string]string{"name": "p", "accessType": "AnyObjectRead", "timeExpires": "2020-01-01T00:00:00Z"}, 400, "InvalidParameter"},
		{"an object PAR without an object", map[string]string{"name": "p", "accessType": "ObjectRead", "timeExpires": future}, 400, "MissingParameter"},
		{"listing on a write PAR", map[string]string{"name": "p", "accessType": "AnyObjectWrite", "bucketListingAction": "ListObjects", "timeExpires": future}, 400, "InvalidParameter"},
		{"an unknown listing action", map[string]string{"name": "p", "accessType": "AnyObjectRead", "bucketListingAction": "Everything", "timeExpires": future}, 400, "InvalidParameter"},
	}
	for _, c := range cases {
		if r := l.admin("r1", "POST", "/n/lab/b/b/p/", c.body); r.status != c.status || r.code() != c.code {
			t.Errorf("%s: want %d %s, got %s", c.name, c.status, c.code, r)
		}
	}
	if r := l.admin("r1", "POST", "/n/lab/b/nothing/p/", map[string]string{"name": "p", "accessType": "AnyObjectRead", "timeExpires": future}); r.status != 404 {
		t.Errorf("a PAR on a bucket that does not exist: %s", r)
	}

	p := l.par("r1", "b", map[string]string{"name": "backups", "accessType": "AnyObjectWrite", "objectName": "etcd/c1/", "timeExpires": future})
	if p.ID == "" || p.Name != "backups" || p.BucketListingAction != "Deny" || p.ObjectName != "etcd/c1/" {
		t.Fatalf("created %+v", p)
	}
	if !strings.HasPrefix(p.AccessURI, "/p/") || !strings.HasSuffix(p.AccessURI, "/n/lab/b/b/o/") || strings.Contains(p.AccessURI, p.ID) {
		t.Fatalf("accessUri %q must hold a secret of its own, not the id", p.AccessURI)
	}
	if p.FullPath != l.servers["r1"].URL+p.AccessURI {
		t.Fatalf("fullPath %q is not the address the request came to (%s) plus the accessUri", p.FullPath, l.servers["r1"].URL)
	}
	if r := send(t, "PUT", p.FullPath+"etcd/c1/x", strings.NewReader("x"), nil); r.status != http.StatusOK {
		t.Fatalf("PUT through fullPath: %s", r)
	}
	var list []map[string]any
	listed := l.mustAdmin("r1", "GET", "/n/lab/b/b/p/", nil, 200)
	listed.json(t, &list)
	if len(list) != 1 || list[0]["id"] != p.ID || list[0]["accessUri"] != nil || list[0]["fullPath"] != nil || strings.Contains(string(listed.body), strings.Split(p.AccessURI, "/")[2]) {
		t.Fatalf("the PAR listing must not hold the secret: %s", listed.body)
	}
	var one map[string]any
	l.mustAdmin("r1", "GET", "/n/lab/b/b/p/"+p.ID, nil, 200).json(t, &one)
	if one["name"] != "backups" || one["accessUri"] != nil {
		t.Fatalf("GET of the PAR: %v", one)
	}
	l.mustAdmin("r1", "DELETE", "/n/lab/b/b/p/"+p.ID, nil, 204)
	if r := l.admin("r1", "DELETE", "/n/lab/b/b/p/"+p.ID, nil); r.status != 404 {
		t.Fatalf("deleting a deleted PAR: %s", r)
	}
}

func TestAdminObjects(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	put := l.putObject("r1", "b", "dir/x y", "data")
	if got := string(l.mustAdmin("r1", "GET", "/n/lab/b/b/o/dir/x%20y", nil, 200).body); got != "data" {
		t.Fatalf("GET %q", got)
	}
	if r := l.admin("r1", "DELETE", "/n/lab/b/b/o/dir/x%20y", nil); r.status != 204 {
		t.Fatalf("DELETE: %s", r)
	}
	cases := []struct {
		name   string
		r      reply
		status int
		code   string
	}{
		{"GET after DELETE", l.admin("r1", "GET", "/n/lab/b/b/o/dir/x%20y", nil), 404, "ObjectNotFound"},
		{"DELETE again", l.admin("r1", "DELETE", "/n/lab/b/b/o/dir/x%20y", nil), 404, "ObjectNotFound"},
		{"DELETE in a bucket that does not exist", l.admin("r1", "DELETE", "/n/lab/b/nothing/o/x", nil), 404, "BucketNotFound"},
	}
	for _, c := range cases {
		if c.r.status != c.status || c.r.code() != c.code {
			t.Errorf("%s: want %d %s, got %s", c.name, c.status, c.code, c.r)
		}
	}
	l.putObject("r1", "b", "y", "data")
	if r := send(t, "DELETE", l.url("r1", "/n/lab/b/b/o/y"), nil, map[string]string{"Authorization": "Bearer " + testToken, "if-match": put.header.Get("ETag")}); r.status != 412 || r.code() != "IfMatchFailed" {
		t.Fatalf("DELETE with a stale if-match: %s", r)
	}
}
