package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Config is the emulator's start-of-world: where it listens, which region each address is, where
// it keeps data, and (the static part lab/lab.sh writes) buckets, PARs and replication that exist
// from the start. Everything the admin API creates later lives in the data dir instead.
type Config struct {
	// Namespace is the tenancy's Object Storage namespace (GET /n/). Default "lab".
	Namespace string `json:"namespace"`
	// Listen is the original form: addresses that belong to no region. They serve PAR requests
	// for every bucket, and of the admin API only GET /n/.
	Listen []string `json:"listen"`
	// Regions: each address belongs to one region, as OCI's regional endpoints do.
	Regions []RegionSpec `json:"regions"`
	DataDir string       `json:"dataDir"`
	// AdminTokenFile holds the bearer token of the admin API; without it the admin API is off.
	AdminTokenFile string `json:"adminTokenFile"`

	Buckets     []BucketSpec  `json:"buckets"`
	PARs        []PARSpec     `json:"pars"`
	Replication []Replication `json:"replication"`

	// ReplicationLag is the lag model of every replication policy (see LagSpec).
	ReplicationLag *LagSpec `json:"replicationLag"`
	// DayLengthSeconds is how long a lifecycle "day" lasts; tests shrink it to seconds.
	DayLengthSeconds float64 `json:"dayLengthSeconds"`
	// LifecycleIntervalSeconds is how often lifecycle rules are applied.
	LifecycleIntervalSeconds float64 `json:"lifecycleIntervalSeconds"`
}

type RegionSpec struct {
	Name   string    `json:"name"`
	Listen addresses `json:"listen"`
}

// addresses is one "host:port" or a list of them.
type addresses []string

func (a *addresses) UnmarshalJSON(raw []byte) error {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		*a = addresses{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return errors.New(`listen must be "host:port" or a list of them`)
	}
	*a = many
	return nil
}

// BucketSpec is a bucket of the static config.
type BucketSpec struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Region    string `json:"region"`
}

// PARSpec is a PAR of the static config; its id is also the secret in its URL.
type PARSpec struct {
	ID         string `json:"id"`
	Bucket     string `json:"bucket"`
	AccessType string `json:"accessType"`
	Listing    bool   `json:"listing"`
	Prefix     string `json:"prefix"`
	Expires    string `json:"expires"`
}

// Replication is a policy of the static config. It exists from the start of the world, so every
// object of its source is in its scope, also one written before a restart.
type Replication struct {
	Source      string  `json:"source"`
	Destination string  `json:"destination"`
	LagSeconds  float64 `json:"lagSeconds"`
}

// LagSpec: each object arrives base + size/bytesPerSecond + a uniform random share of jitter
// after it was written, independently of the others, so they can arrive out of order. A seed
// other than 0 makes the random shares repeatable.
type LagSpec struct {
	BaseSeconds    *float64 `json:"baseSeconds"`
	BytesPerSecond float64  `json:"bytesPerSecond"`
	JitterSeconds  float64  `json:"jitterSeconds"`
	Seed           int64    `json:"seed"`
}

// lagModel is a LagSpec resolved for one policy.
type lagModel struct {
	base           time.Duration
	bytesPerSecond float64
	jitter         time.Duration
}

// Defaults for policies created through the admin API when the config has no replicationLag:
// seconds, growing with size, and enough jitter to reorder a snapshot's objects.
const (
	defaultLagBase      = 1.0
	defaultLagBandwidth = 16 << 20
	defaultLagJitter    = 1.0
)

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// adminLag is the lag of a policy created through the admin API.
func (c *Config) adminLag() lagModel {
	if c.ReplicationLag == nil {
		return lagModel{seconds(defaultLagBase), defaultLagBandwidth, seconds(defaultLagJitter)}
	}
	base := defaultLagBase
	if c.ReplicationLag.BaseSeconds != nil {
		base = *c.ReplicationLag.BaseSeconds
	}
	return lagModel{seconds(base), c.ReplicationLag.BytesPerSecond, seconds(c.ReplicationLag.JitterSeconds)}
}

// staticLag is the lag of a static policy: its lagSeconds, and size and jitter only when the
// config asks for them, so that a config written for the in-order emulator keeps its timing.
func (c *Config) staticLag(rule Replication) lagModel {
	m := lagModel{base: seconds(rule.LagSeconds)}
	if c.ReplicationLag != nil {
		m.bytesPerSecond = c.ReplicationLag.BytesPerSecond
		m.jitter = seconds(c.ReplicationLag.JitterSeconds)
	}
	return m
}

func (c *Config) dayLength() time.Duration {
	if c.DayLengthSeconds > 0 {
		return seconds(c.DayLengthSeconds)
	}
	return 24 * time.Hour
}

// lifecycleInterval: a hundredth of a day, between 50ms and a minute, unless configured.
func (c *Config) lifecycleInterval() time.Duration {
	if c.LifecycleIntervalSeconds > 0 {
		return seconds(c.LifecycleIntervalSeconds)
	}
	return min(max(c.dayLength()/100, 50*time.Millisecond), time.Minute)
}

var accessTypes = map[string]bool{
	"ObjectRead": true, "ObjectWrite": true, "ObjectReadWrite": true,
	"AnyObjectRead": true, "AnyObjectWrite": true, "AnyObjectReadWrite": true,
}

func loadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the config: %w", err)
	}
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.DisallowUnknownFields()
	var cfg Config
	if err := decoder.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("config %s is not valid: %v; see lab/objstore/README.md", path, err)
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &cfg, nil
}

// check finds the first mistake in the config, as one sentence that says what to do.
func (c *Config) check() error {
	if c.Namespace == "" {
		c.Namespace = "lab"
	}
	if c.DataDir == "" {
		return errors.New("dataDir is missing; name the directory that keeps the buckets")
	}
	if len(c.Listen) == 0 && len(c.Regions) == 0 {
		return errors.New(`no address to listen on; give "regions" ([{"name", "listen"}]) or "listen"`)
	}
	seen := map[string]string{}
	for _, address := range c.Listen {
		if address == "" {
			return errors.New("listen has an empty address; give host:port")
		}
		if seen[address] != "" {
			return fmt.Errorf("address %s is listed twice; give each address once", address)
		}
		seen[address] = "listen"
	}
	regions := map[string]bool{}
	for i, region := range c.Regions {
		if region.Name == "" {
			return fmt.Errorf("regions[%d] has no name; name every region", i)
		}
		if problem := nameProblem("region", region.Name); problem != "" {
			return fmt.Errorf("regions[%d]: %s", i, problem)
		}
		if regions[region.Name] {
			return fmt.Errorf("region %s is listed twice; give each region once", region.Name)
		}
		regions[region.Name] = true
		if len(region.Listen) == 0 {
			return fmt.Errorf("region %s has no listen address; give it host:port", region.Name)
		}
		for _, address := range region.Listen {
			if address == "" {
				return fmt.Errorf("region %s has an empty listen address; give host:port", region.Name)
			}
			if seen[address] != "" {
				return fmt.Errorf("address %s is listed twice; give each address once", address)
			}
			seen[address] = region.Name
		}
	}
	buckets := map[string]bool{}
	for i, b := range c.Buckets {
		if err := bucketNameProblem(b.Name); err != "" {
			return fmt.Errorf("buckets[%d]: %s", i, err)
		}
		if b.Region != "" {
			if problem := nameProblem("region", b.Region); problem != "" {
				return fmt.Errorf("buckets[%d]: %s", i, problem)
			}
		}
		if buckets[b.Name] {
			return fmt.Errorf("bucket %s is listed twice; static buckets need distinct names", b.Name)
		}
		buckets[b.Name] = true
	}
	for i, p := range c.PARs {
		if p.ID == "" {
			return fmt.Errorf("pars[%d] has no id; the id is the secret in its URL", i)
		}
		if !buckets[p.Bucket] {
			return fmt.Errorf("PAR %s names bucket %q, which is not in buckets", p.ID, p.Bucket)
		}
		if !strings.HasPrefix(p.AccessType, "AnyObject") || !accessTypes[p.AccessType] {
			return fmt.Errorf("PAR %s has accessType %q; a static PAR is AnyObjectRead, AnyObjectWrite or AnyObjectReadWrite", p.ID, p.AccessType)
		}
		if p.Listing && p.AccessType == "AnyObjectWrite" {
			return fmt.Errorf("PAR %s lists but cannot read; listing needs AnyObjectRead or AnyObjectReadWrite", p.ID)
		}
		if p.Expires != "" {
			if _, err := time.Parse(time.RFC3339, p.Expires); err != nil {
				return fmt.Errorf("PAR %s expires %q, which is not an RFC 3339 time", p.ID, p.Expires)
			}
		}
	}
	sources, destinations := map[string]bool{}, map[string]bool{}
	for _, r := range c.Replication {
		if !buckets[r.Source] || !buckets[r.Destination] {
			return fmt.Errorf("replication %s -> %s names a bucket that is not in buckets", r.Source, r.Destination)
		}
		if r.Source == r.Destination {
			return fmt.Errorf("replication %s -> %s replicates a bucket into itself; name another destination", r.Source, r.Destination)
		}
		if sources[r.Source] {
			return fmt.Errorf("replication %s -> %s: %s already has a policy, and a source bucket has only one", r.Source, r.Destination, r.Source)
		}
		if destinations[r.Destination] {
			return fmt.Errorf("replication %s -> %s: %s is already the destination of another policy", r.Source, r.Destination, r.Destination)
		}
		sources[r.Source], destinations[r.Destination] = true, true
	}
	for _, r := range c.Replication {
		if destinations[r.Source] {
			return fmt.Errorf("replication %s -> %s: %s is a replication destination, which is read-only and cannot be a source", r.Source, r.Destination, r.Source)
		}
	}
	if lag := c.ReplicationLag; lag != nil && (lag.BytesPerSecond < 0 || lag.JitterSeconds < 0 || (lag.BaseSeconds != nil && *lag.BaseSeconds < 0)) {
		return errors.New("replicationLag has a negative value; lags and bandwidth are zero or more")
	}
	if c.DayLengthSeconds < 0 || c.LifecycleIntervalSeconds < 0 {
		return errors.New("dayLengthSeconds and lifecycleIntervalSeconds are more than zero (or left out)")
	}
	return nil
}

// readToken reads the admin token; an empty file is a mistake, not "no authentication".
func readToken(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read adminTokenFile: %w", err)
	}
	token := bytes.TrimSpace(raw)
	if len(token) == 0 {
		return nil, fmt.Errorf("adminTokenFile %s is empty; write a random token into it (e.g. openssl rand -hex 32)", path)
	}
	return token, nil
}

// bucketNameProblem follows OCI's rule: 1 to 256 letters, digits, dashes, underscores and periods.
func bucketNameProblem(name string) string { return nameProblem("bucket", name) }

// nameProblem: bucket and region names also name directories, so they must be one path element.
func nameProblem(kind, name string) string {
	if name == "" || len(name) > 256 {
		return fmt.Sprintf("%s name %q must have 1 to 256 characters", kind, name)
	}
	if name == "." || name == ".." {
		return fmt.Sprintf("%s name %q is not allowed", kind, name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Sprintf("%s name %q may hold only letters, digits, dashes, underscores and periods", kind, name)
		}
	}
	return ""
}
