package main

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	mrand "math/rand"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// object is one object's metadata, kept in memory and in "<hash>.meta" next to its data.
type object struct {
	Name         string    `json:"name"`
	Size         int64     `json:"size"`
	MD5          string    `json:"md5"`
	ETag         string    `json:"etag"`
	TimeCreated  time.Time `json:"timeCreated"`
	TimeModified time.Time `json:"timeModified"`
	// Data is the file that holds this version's bytes. Every write gets a new file, and the
	// index points at it only once it is complete, so a reader that opened a version keeps
	// reading exactly that version, whatever is written or deleted after.
	Data string `json:"data"`
	// ReplicatedBy is the policy that copied the object here, so that a restart can propagate a
	// delete that happened in the source while the emulator was down.
	ReplicatedBy string `json:"replicatedBy,omitempty"`
}

type bucket struct {
	Namespace     string    `json:"namespace"`
	Name          string    `json:"name"`
	Region        string    `json:"region"`
	CompartmentID string    `json:"compartmentId"`
	ID            string    `json:"id"`
	ETag          string    `json:"etag"`
	TimeCreated   time.Time `json:"timeCreated"`

	static    bool
	lifecycle *lifecyclePolicy
	dir       string
	objects   map[string]*object
}

type bucketKey struct{ region, name string }

func (b *bucket) key() bucketKey { return bucketKey{b.Region, b.Name} }

type par struct {
	ID                  string    `json:"id"`
	Token               string    `json:"token"`
	Name                string    `json:"name"`
	Region              string    `json:"bucketRegion"`
	Bucket              string    `json:"bucket"`
	AccessType          string    `json:"accessType"`
	ObjectName          string    `json:"objectName"`
	BucketListingAction string    `json:"bucketListingAction"`
	TimeExpires         time.Time `json:"timeExpires"`
	TimeCreated         time.Time `json:"timeCreated"`

	static bool
}

func (p *par) reads() bool {
	return strings.HasSuffix(p.AccessType, "Read") || strings.HasSuffix(p.AccessType, "ReadWrite")
}
func (p *par) writes() bool { return strings.HasSuffix(p.AccessType, "Write") }
func (p *par) anyObject() bool {
	return strings.HasPrefix(p.AccessType, "AnyObject")
}

// covers: an AnyObject* PAR reaches the objects under its objectName (a prefix, or the whole
// bucket); an Object* PAR reaches its one object.
func (p *par) covers(name string) bool {
	if p.anyObject() {
		return strings.HasPrefix(name, p.ObjectName)
	}
	return name == p.ObjectName
}

type policy struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	SourceRegion      string    `json:"sourceRegion"`
	SourceBucket      string    `json:"sourceBucket"`
	DestinationRegion string    `json:"destinationRegionName"`
	DestinationBucket string    `json:"destinationBucketName"`
	TimeCreated       time.Time `json:"timeCreated"`

	static bool
	lag    lagModel
}

func (p *policy) source() bucketKey      { return bucketKey{p.SourceRegion, p.SourceBucket} }
func (p *policy) destination() bucketKey { return bucketKey{p.DestinationRegion, p.DestinationBucket} }

// Faults are the lab's switches for tests: a paused replication, regions nobody can reach.
type Faults struct {
	ReplicationPaused  bool     `json:"replicationPaused"`
	UnreachableRegions []string `json:"unreachableRegions"`
}

// Store is every region's Object Storage in one process: buckets with their objects on disk,
// PARs, replication policies and lifecycle policies. One lock guards all of it; object bytes are
// streamed outside it.
type Store struct {
	cfg       *Config
	namespace string
	regions   map[string]bool
	now       func() time.Time

	mu       sync.RWMutex
	buckets  map[bucketKey]*bucket
	pars     map[string]*par // by token
	policies map[string]*policy
	// stoppedStatic: static policies ended by MakeBucketWritable, kept ended across restarts.
	stoppedStatic map[string]bool
	faults        Faults
	pending       map[*replEvent]struct{}
	rng           *mrand.Rand
	closed        bool

	work      sync.WaitGroup
	closing   chan struct{}
	closeOnce sync.Once
}

func randomID(bytes int) string {
	raw := make([]byte, bytes)
	if _, err := rand.Read(raw); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

func newETag() string {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		panic(err)
	}
	raw[6] = raw[6]&0x0f | 0x40
	raw[8] = raw[8]&0x3f | 0x80
	h := hex.EncodeToString(raw)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func hashName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// NewStore loads the static config and what the admin API created before, then replicates what
// a previous run had not replicated yet and starts applying lifecycle rules.
func NewStore(cfg *Config, now func() time.Time) (*Store, error) {
	if cfg.Namespace == "" {
		cfg.Namespace = "lab"
	}
	s := &Store{
		cfg: cfg, namespace: cfg.Namespace, regions: map[string]bool{}, now: now,
		buckets: map[bucketKey]*bucket{}, pars: map[string]*par{}, policies: map[string]*policy{},
		stoppedStatic: map[string]bool{}, pending: map[*replEvent]struct{}{}, closing: make(chan struct{}),
	}
	seed := time.Now().UnixNano()
	if cfg.ReplicationLag != nil && cfg.ReplicationLag.Seed != 0 {
		seed = cfg.ReplicationLag.Seed
	}
	s.rng = mrand.New(mrand.NewSource(seed))
	for _, r := range cfg.Regions {
		s.regions[r.Name] = true
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	state, err := s.readState()
	if err != nil {
		return nil, err
	}
	for name := range state.StoppedStatic {
		s.stoppedStatic[name] = true
	}
	if err := s.loadStatic(); err != nil {
		return nil, err
	}
	if err := s.loadState(state); err != nil {
		return nil, err
	}
	s.mu.Lock()
	for _, p := range s.policies {
		s.reconcileLocked(p)
	}
	s.mu.Unlock()
	s.work.Add(1)
	go s.lifecycleLoop()
	return s, nil
}

// bucketDir: <dataDir>/buckets/<region>/<bucket>, or buckets-without-region/<bucket> for a static
// bucket that names no region. Names of both kinds are checked to be single path elements.
func (s *Store) bucketDir(region, name string) string {
	if region == "" {
		return filepath.Join(s.cfg.DataDir, "buckets-without-region", name)
	}
	return filepath.Join(s.cfg.DataDir, "buckets", region, name)
}

func staticPolicyID(r Replication) string { return "static:" + r.Source + "->" + r.Destination }

func (s *Store) loadStatic() error {
	byName := map[string]*bucket{}
	for _, spec := range s.cfg.Buckets {
		namespace := spec.Namespace
		if namespace == "" {
			namespace = s.namespace
		}
		b := &bucket{Namespace: namespace, Name: spec.Name, Region: spec.Region, ID: "static:" + spec.Name, ETag: "static", static: true}
		if err := s.openBucket(b); err != nil {
			return err
		}
		byName[spec.Name] = b
	}
	for _, spec := range s.cfg.PARs {
		b := byName[spec.Bucket]
		p := &par{ID: spec.ID, Token: spec.ID, Name: spec.ID, Region: b.Region, Bucket: b.Name, AccessType: spec.AccessType, ObjectName: spec.Prefix, BucketListingAction: "Deny", static: true}
		if spec.Listing {
			p.BucketListingAction = "ListObjects"
		}
		if spec.Expires != "" {
			p.TimeExpires, _ = time.Parse(time.RFC3339, spec.Expires) // checked by Config.check
		}
		s.pars[p.Token] = p
	}
	for _, rule := range s.cfg.Replication {
		id := staticPolicyID(rule)
		if s.stoppedStatic[id] {
			continue
		}
		src, dst := byName[rule.Source], byName[rule.Destination]
		s.policies[id] = &policy{ID: id, Name: id, SourceRegion: src.Region, SourceBucket: src.Name, DestinationRegion: dst.Region, DestinationBucket: dst.Name, static: true, lag: s.cfg.staticLag(rule)}
	}
	return nil
}

// openBucket makes the bucket's directory, loads its objects and removes what a crash left.
func (s *Store) openBucket(b *bucket) error {
	b.dir = s.bucketDir(b.Region, b.Name)
	b.objects = map[string]*object{}
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return err
	}
	referenced := map[string]bool{}
	for _, entry := range entries {
		if !strings.HasSuffix(entry.Name(), ".meta") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(b.dir, entry.Name()))
		if err != nil {
			return err
		}
		var o object
		if err := json.Unmarshal(raw, &o); err != nil || o.Data == "" {
			return fmt.Errorf("%s is damaged (%v); remove it and its data file, or the whole data dir", filepath.Join(b.dir, entry.Name()), err)
		}
		if _, err := os.Stat(filepath.Join(b.dir, o.Data)); err != nil {
			return fmt.Errorf("object %q of bucket %s has no data file (%v); remove %s", o.Name, b.Name, err, filepath.Join(b.dir, entry.Name()))
		}
		b.objects[o.Name] = &o
		referenced[o.Data] = true
	}
	// An upload or a write that a crash interrupted: temporary files and data without metadata.
	for _, entry := range entries {
		name := entry.Name()
		if !strings.HasSuffix(name, ".meta") && !referenced[name] {
			_ = os.Remove(filepath.Join(b.dir, name))
		}
	}
	s.buckets[b.key()] = b
	return nil
}

// The admin API's creations, kept in <dataDir>/state.json.
type persisted struct {
	Buckets       []*bucket                   `json:"buckets"`
	PARs          []*par                      `json:"pars"`
	Policies      []*policy                   `json:"replicationPolicies"`
	Lifecycles    map[string]*lifecyclePolicy `json:"lifecyclePolicies"`
	StoppedStatic map[string]bool             `json:"stoppedStaticReplication"`
}

func (s *Store) statePath() string { return filepath.Join(s.cfg.DataDir, "state.json") }

func lifecycleKey(k bucketKey) string { return k.region + "/" + k.name }

func (s *Store) readState() (*persisted, error) {
	raw, err := os.ReadFile(s.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return &persisted{}, nil
	}
	if err != nil {
		return nil, err
	}
	var state persisted
	if err := json.Unmarshal(raw, &state); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v); restore it or start with an empty data dir", s.statePath(), err)
	}
	return &state, nil
}

func (s *Store) loadState(state *persisted) error {
	for _, b := range state.Buckets {
		if s.buckets[b.key()] != nil {
			log.Printf("bucket %s in region %s is in the static config; the one the admin API created is ignored", b.Name, b.Region)
			continue
		}
		if err := s.openBucket(b); err != nil {
			return err
		}
	}
	for _, p := range state.PARs {
		if s.buckets[bucketKey{p.Region, p.Bucket}] != nil {
			s.pars[p.Token] = p
		}
	}
	for _, p := range state.Policies {
		if s.buckets[p.source()] != nil && s.buckets[p.destination()] != nil {
			p.lag = s.cfg.adminLag()
			s.policies[p.ID] = p
		}
	}
	for key, l := range state.Lifecycles {
		region, name, _ := strings.Cut(key, "/")
		if b := s.buckets[bucketKey{region, name}]; b != nil {
			b.lifecycle = l
		}
	}
	return nil
}

// saveLocked writes state.json atomically and durably; callers hold s.mu.
func (s *Store) saveLocked() error {
	state := persisted{Lifecycles: map[string]*lifecyclePolicy{}, StoppedStatic: s.stoppedStatic}
	for _, b := range s.buckets {
		if !b.static {
			state.Buckets = append(state.Buckets, b)
		}
		if b.lifecycle != nil {
			state.Lifecycles[lifecycleKey(b.key())] = b.lifecycle
		}
	}
	for _, p := range s.pars {
		if !p.static {
			state.PARs = append(state.PARs, p)
		}
	}
	for _, p := range s.policies {
		if !p.static {
			state.Policies = append(state.Policies, p)
		}
	}
	sort.Slice(state.Buckets, func(i, j int) bool { return state.Buckets[i].ID < state.Buckets[j].ID })
	sort.Slice(state.PARs, func(i, j int) bool { return state.PARs[i].ID < state.PARs[j].ID })
	sort.Slice(state.Policies, func(i, j int) bool { return state.Policies[i].ID < state.Policies[j].ID })
	raw, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return err
	}
	return writeFileDurably(s.statePath(), raw)
}

// writeFileDurably: a temporary file, fsync, rename over the target, fsync of the directory. A
// crash leaves the old content or the new one, never a torn file.
func writeFileDurably(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// --- lookups (callers hold s.mu) ---

// bucketIn finds a bucket as a request in region sees it: its own region's, or a region-less
// static one.
func (s *Store) bucketIn(region, name string) *bucket {
	if b := s.buckets[bucketKey{region, name}]; b != nil {
		return b
	}
	return s.buckets[bucketKey{"", name}]
}

func (s *Store) policyFrom(k bucketKey) *policy {
	for _, p := range s.policies {
		if p.source() == k {
			return p
		}
	}
	return nil
}

func (s *Store) policyInto(k bucketKey) *policy {
	for _, p := range s.policies {
		if p.destination() == k {
			return p
		}
	}
	return nil
}

// readOnly: a replication destination takes writes only from replication.
func (s *Store) readOnly(b *bucket) bool { return s.policyInto(b.key()) != nil }

func errReadOnly(b *bucket) *apiError {
	return newError(http.StatusConflict, "BucketReadOnly", "bucket %s is the destination of a replication policy and is read-only; call makeBucketWritable on it (in its own region) or delete the policy first", b.Name)
}

// --- objects ---

type writeOptions struct {
	ifNoneMatch string // "*": refuse an existing object
	ifMatch     string // the current ETag, or refuse
	contentMD5  string // base64 MD5 the body must have
}

// staged is an object's bytes in a temporary file of the bucket's directory, fsynced.
type staged struct {
	path string
	size int64
	md5  string
}

// stage copies exactly size bytes of body into the bucket's directory and syncs them to disk.
func stage(dir string, body io.Reader, size int64) (*staged, error) {
	f, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return nil, err
	}
	hash := md5.New()
	n, err := io.Copy(io.MultiWriter(f, hash), io.LimitReader(body, size))
	if err == nil && n != size {
		err = newError(http.StatusBadRequest, "InvalidParameter", "the body ended after %d of the %d bytes Content-Length announced; send the whole object", n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return nil, err
	}
	return &staged{path: f.Name(), size: n, md5: base64.StdEncoding.EncodeToString(hash.Sum(nil))}, nil
}

// commitLocked makes a staged file the current version of name: data renamed into place, then the
// metadata written durably (the commit point), then the old version's file removed.
func (s *Store) commitLocked(b *bucket, o *object, st *staged) error {
	base := hashName(o.Name)
	o.Data = base + "." + o.ETag
	if err := os.Rename(st.path, filepath.Join(b.dir, o.Data)); err != nil {
		_ = os.Remove(st.path)
		return err
	}
	meta, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if err := writeFileDurably(filepath.Join(b.dir, base+".meta"), meta); err != nil {
		_ = os.Remove(filepath.Join(b.dir, o.Data))
		return err
	}
	if old := b.objects[o.Name]; old != nil && old.Data != o.Data {
		_ = os.Remove(filepath.Join(b.dir, old.Data))
	}
	b.objects[o.Name] = o
	return nil
}

// PutObject stores an object written by a client (through a PAR or the admin API).
func (s *Store) PutObject(region, bucketName, name string, body io.Reader, size int64, opts writeOptions) (*object, error) {
	if name == "" || len(name) > 1024 {
		return nil, invalid("object name must have 1 to 1024 characters")
	}
	s.mu.RLock()
	b := s.bucketIn(region, bucketName)
	var early error
	switch {
	case b == nil:
		early = bucketNotFound(s.namespace, bucketName)
	case s.readOnly(b):
		early = errReadOnly(b)
	default:
		early = preconditionProblem(b.objects[name], opts)
	}
	s.mu.RUnlock()
	// Refused before the body is read, as OCI does; checked again at the commit.
	if early != nil {
		return nil, early
	}
	st, err := stage(b.dir, body, size)
	if err != nil {
		return nil, err
	}
	if opts.contentMD5 != "" && opts.contentMD5 != st.md5 {
		_ = os.Remove(st.path)
		return nil, newError(http.StatusBadRequest, "UnmatchedContentMD5", "the body's MD5 is %s, Content-MD5 says %s; upload again", st.md5, opts.contentMD5)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[b.key()] != b {
		_ = os.Remove(st.path)
		return nil, bucketNotFound(s.namespace, bucketName)
	}
	if s.readOnly(b) {
		_ = os.Remove(st.path)
		return nil, errReadOnly(b)
	}
	if err := preconditionProblem(b.objects[name], opts); err != nil {
		_ = os.Remove(st.path)
		return nil, err
	}
	now := s.now().UTC()
	o := &object{Name: name, Size: st.size, MD5: st.md5, ETag: newETag(), TimeCreated: now, TimeModified: now}
	if err := s.commitLocked(b, o, st); err != nil {
		return nil, err
	}
	s.changedLocked(b, o.Name, o)
	copied := *o
	return &copied, nil
}

func preconditionProblem(existing *object, opts writeOptions) error {
	if opts.ifNoneMatch != "" {
		if opts.ifNoneMatch != "*" {
			return invalid("if-none-match may only be '*' (refuse an object that exists)")
		}
		if existing != nil {
			return newError(http.StatusPreconditionFailed, "IfNoneMatchFailed", "The object '%s' already exists and if-none-match is '*'; it was not overwritten", existing.Name)
		}
	}
	if opts.ifMatch != "" && (existing == nil || existing.ETag != opts.ifMatch) {
		return newError(http.StatusPreconditionFailed, "IfMatchFailed", "The if-match ETag %s does not match the object's current ETag", opts.ifMatch)
	}
	return nil
}

// OpenObject returns the current version of an object with its bytes opened: the pair stays
// consistent whatever happens to the object afterwards.
func (s *Store) OpenObject(region, bucketName, name string) (*os.File, object, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		return nil, object{}, bucketNotFound(s.namespace, bucketName)
	}
	o := b.objects[name]
	if o == nil {
		return nil, object{}, objectNotFound(bucketName, name)
	}
	f, err := os.Open(filepath.Join(b.dir, o.Data))
	if err != nil {
		return nil, object{}, err
	}
	return f, *o, nil
}

// DeleteObject deletes through the admin API; a replication destination refuses it.
func (s *Store) DeleteObject(region, bucketName, name, ifMatch string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		return bucketNotFound(s.namespace, bucketName)
	}
	if s.readOnly(b) {
		return errReadOnly(b)
	}
	o := b.objects[name]
	if o == nil {
		return objectNotFound(bucketName, name)
	}
	if ifMatch != "" && ifMatch != o.ETag {
		return newError(http.StatusPreconditionFailed, "IfMatchFailed", "The if-match ETag %s does not match the object's current ETag", ifMatch)
	}
	if err := s.removeLocked(b, name); err != nil {
		return err
	}
	s.changedLocked(b, name, nil)
	return nil
}

// removeLocked deletes an object's metadata (the commit point) and then its bytes.
func (s *Store) removeLocked(b *bucket, name string) error {
	o := b.objects[name]
	if err := os.Remove(filepath.Join(b.dir, hashName(name)+".meta")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := syncDir(b.dir); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(b.dir, o.Data))
	delete(b.objects, name)
	return nil
}

type listQuery struct {
	prefix, start, startAfter, end string
	limit                          int
}

// ListObjects returns objects in name order from the query's start, at most limit of them, and
// the name the next page starts with ("" on the last page).
func (s *Store) ListObjects(region, bucketName string, q listQuery) ([]object, string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		return nil, "", bucketNotFound(s.namespace, bucketName)
	}
	var names []string
	for name := range b.objects {
		if strings.HasPrefix(name, q.prefix) && name >= q.start && (q.startAfter == "" || name > q.startAfter) && (q.end == "" || name < q.end) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	next := ""
	if len(names) > q.limit {
		next = names[q.limit]
		names = names[:q.limit]
	}
	out := make([]object, 0, len(names))
	for _, name := range names {
		out = append(out, *b.objects[name])
	}
	return out, next, nil
}

// Close stops replication and lifecycle; what was still to replicate is picked up by the next start.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for ev := range s.pending {
			if ev.timer.Stop() {
				s.work.Done()
			}
		}
		s.pending = map[*replEvent]struct{}{}
		s.mu.Unlock()
		close(s.closing)
	})
	s.work.Wait()
}
