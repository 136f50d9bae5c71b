package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigForms(t *testing.T) {
	// Exactly what lab/lab.sh writes (store_config).
	labSh := `{
  "listen": ["10.250.1.1:8080", "10.250.2.1:8080"],
  "dataDir": "/var/lib/etcd-dr-lab/store/data",
  "buckets": [
    {"namespace": "lab", "name": "etcd-snapshots-primary", "region": "lab-primary"},
    {"namespace": "lab", "name": "etcd-snapshots-standby", "region": "lab-standby"}
  ],
  "pars": [
    {"id": "abc", "bucket": "etcd-snapshots-primary", "accessType": "AnyObjectWrite", "listing": false, "prefix": "etcd/lab/", "expires": "2027-11-22T08:00:00Z"},
    {"id": "def", "bucket": "etcd-snapshots-standby", "accessType": "AnyObjectRead", "listing": true, "prefix": "etcd/lab/", "expires": "2027-11-22T08:00:00Z"}
  ],
  "replication": [{"source": "etcd-snapshots-primary", "destination": "etcd-snapshots-standby", "lagSeconds": 2}]
}`
	cfg, err := loadConfig(writeConfig(t, labSh))
	if err != nil {
		t.Fatalf("lab.sh's config: %v", err)
	}
	if cfg.Namespace != "lab" || len(cfg.endpoints()) != 2 || cfg.endpoints()[0].region != "" {
		t.Fatalf("lab.sh's config read as %+v", cfg)
	}
	if lag := cfg.staticLag(cfg.Replication[0]); lag != (lagModel{base: 2 * time.Second}) {
		t.Fatalf("a static policy without replicationLag keeps its fixed lag, got %+v", lag)
	}
	if cfg.dayLength() != 24*time.Hour || cfg.lifecycleInterval() != time.Minute {
		t.Fatalf("day %s, lifecycle every %s", cfg.dayLength(), cfg.lifecycleInterval())
	}
	if lag := cfg.adminLag(); lag.base != time.Second || lag.jitter != time.Second || lag.bytesPerSecond != defaultLagBandwidth {
		t.Fatalf("default lag of admin policies %+v", lag)
	}

	regions := `{"namespace": "tenancy", "dataDir": "/d", "adminTokenFile": "/t",
	  "regions": [{"name": "lab-1", "listen": "10.250.1.1:8080"}, {"name": "lab-2", "listen": ["10.250.2.1:8080", "127.0.0.1:18080"]}],
	  "replicationLag": {"baseSeconds": 0.5, "bytesPerSecond": 1048576, "jitterSeconds": 2, "seed": 7},
	  "dayLengthSeconds": 60}`
	cfg, err = loadConfig(writeConfig(t, regions))
	if err != nil {
		t.Fatalf("the regions form: %v", err)
	}
	want := []endpoint{{"lab-1", "10.250.1.1:8080"}, {"lab-2", "10.250.2.1:8080"}, {"lab-2", "127.0.0.1:18080"}}
	if got := cfg.endpoints(); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("endpoints %v", got)
	}
	if lag := cfg.adminLag(); lag.base != 500*time.Millisecond || lag.jitter != 2*time.Second || lag.bytesPerSecond != 1<<20 {
		t.Fatalf("lag %+v", lag)
	}
	if cfg.lifecycleInterval() != 600*time.Millisecond {
		t.Fatalf("a 60s day looks at lifecycle rules every %s", cfg.lifecycleInterval())
	}
}

func TestConfigMistakes(t *testing.T) {
	base := `"dataDir": "/d", "listen": ["127.0.0.1:1"]`
	bucket := `"buckets": [{"name": "a"}, {"name": "b"}]`
	cases := []struct{ name, config, want string }{
		{"not JSON", `{`, "is not valid"},
		{"an unknown key", `{` + base + `, "lisen": []}`, `unknown field "lisen"`},
		{"no dataDir", `{"listen": ["127.0.0.1:1"]}`, "dataDir is missing"},
		{"no address", `{"dataDir": "/d"}`, "no address to listen on"},
		{"an address twice", `{"dataDir": "/d", "listen": ["a:1"], "regions": [{"name": "r", "listen": "a:1"}]}`, "a:1 is listed twice"},
		{"a region without a name", `{"dataDir": "/d", "regions": [{"listen": "a:1"}]}`, "regions[0] has no name"},
		{"a region without an address", `{"dataDir": "/d", "regions": [{"name": "r"}]}`, "region r has no listen address"},
		{"a region twice", `{"dataDir": "/d", "regions": [{"name": "r", "listen": "a:1"}, {"name": "r", "listen": "a:2"}]}`, "region r is listed twice"},
		{"listen of the wrong type", `{"dataDir": "/d", "regions": [{"name": "r", "listen": 8080}]}`, "listen must be"},
		{"a region name that is a path", `{"dataDir": "/d", "regions": [{"name": "../etc", "listen": "a:1"}]}`, "region name \"../etc\" may hold only"},
		{"a static bucket's region that is a path", `{` + base + `, "buckets": [{"name": "a", "region": "x/y"}]}`, "region name \"x/y\" may hold only"},
		{"a bad bucket name", `{` + base + `, "buckets": [{"name": "a/b"}]}`, "may hold only letters"},
		{"a bucket twice", `{` + base + `, "buckets": [{"name": "a"}, {"name": "a"}]}`, "bucket a is listed twice"},
		{"a PAR without an id", `{` + base + `, ` + bucket + `, "pars": [{"bucket": "a", "accessType": "AnyObjectRead"}]}`, "pars[0] has no id"},
		{"a PAR on an unknown bucket", `{` + base + `, ` + bucket + `, "pars": [{"id": "p", "bucket": "c", "accessType": "AnyObjectRead"}]}`, `names bucket "c"`},
		{"a PAR of an unknown type", `{` + base + `, ` + bucket + `, "pars": [{"id": "p", "bucket": "a", "accessType": "Everything"}]}`, `accessType "Everything"`},
		{"a listing write PAR", `{` + base + `, ` + bucket + `, "pars": [{"id": "p", "bucket": "a", "accessType": "AnyObjectWrite", "listing": true}]}`, "lists but cannot read"},
		{"a PAR expiry that is no time", `{` + base + `, ` + bucket + `, "pars": [{"id": "p", "bucket": "a", "accessType": "AnyObjectRead", "expires": "soon"}]}`, "not an RFC 3339 time"},
		{"replication of an unknown bucket", `{` + base + `, ` + bucket + `, "replication": [{"source": "a", "destination": "c"}]}`, "not in buckets"},
		{"replication into itself", `{` + base + `, ` + bucket + `, "replication": [{"source": "a", "destination": "a"}]}`, "into itself"},
		{"two policies on a source", `{` + base + `, "buckets": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "replication": [{"source": "a", "destination": "b"}, {"source": "a", "destination": "c"}]}`, "a source bucket has only one"},
		{"a chain", `{` + base + `, "buckets": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "replication": [{"source": "a", "destination": "b"}, {"source": "b", "destination": "c"}]}`, "cannot be a source"},
		{"a negative lag", `{` + base + `, "replicationLag": {"jitterSeconds": -1}}`, "negative value"},
		{"a negative day", `{` + base + `, "dayLengthSeconds": -1}`, "more than zero"},
	}
	for _, c := range cases {
		_, err := loadConfig(writeConfig(t, c.config))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: want one line with %q, got %v", c.name, c.want, err)
		}
	}
	if _, err := loadConfig(filepath.Join(t.TempDir(), "none.json")); err == nil || !strings.Contains(err.Error(), "cannot read the config") {
		t.Errorf("a missing config: %v", err)
	}
}

func TestAdminTokenFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	_ = os.WriteFile(empty, []byte(" \n"), 0o600)
	if _, err := readToken(empty); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("an empty token file: %v", err)
	}
	if _, err := readToken(filepath.Join(dir, "none")); err == nil {
		t.Error("a missing token file was accepted")
	}
	if token, err := readToken(""); token != nil || err != nil {
		t.Errorf("no token file: %q %v", token, err)
	}
}
