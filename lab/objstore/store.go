package main

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// ObjectInfo is what a listing returns for one object.
type ObjectInfo struct {
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	MD5         string `json:"md5"`
	TimeCreated string `json:"timeCreated"`
}

type bucket struct {
	spec     BucketSpec
	dir      string
	objects  map[string]ObjectInfo
	readOnly bool
}

// Store keeps objects on disk, one file per object plus its metadata, and an index in memory.
type Store struct {
	mu       sync.RWMutex
	buckets  map[string]*bucket
	pars     map[string]PARSpec
	rules    []Replication
	pending  sync.WaitGroup
	closing  chan struct{}
	closeOne sync.Once
}

var (
	errNotFound = errors.New("not found")
	errReadOnly = errors.New("bucket is a replication destination and is read-only")
)

func objectFile(dir, name string) string {
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(dir, hex.EncodeToString(sum[:]))
}

func NewStore(cfg *Config) (*Store, error) {
	s := &Store{buckets: map[string]*bucket{}, pars: map[string]PARSpec{}, rules: cfg.Replication, closing: make(chan struct{})}
	for _, spec := range cfg.Buckets {
		dir := filepath.Join(cfg.DataDir, spec.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		b := &bucket{spec: spec, dir: dir, objects: map[string]ObjectInfo{}}
		if err := b.loadIndex(); err != nil {
			return nil, err
		}
		s.buckets[spec.Name] = b
	}
	for _, rule := range cfg.Replication {
		src, dst := s.buckets[rule.Source], s.buckets[rule.Destination]
		if src == nil || dst == nil {
			return nil, fmt.Errorf("replication %s -> %s names an unknown bucket", rule.Source, rule.Destination)
		}
		dst.readOnly = true
	}
	for _, par := range cfg.PARs {
		if s.buckets[par.Bucket] == nil {
			return nil, fmt.Errorf("PAR %s names unknown bucket %s", par.ID, par.Bucket)
		}
		s.pars[par.ID] = par
	}
	return s, nil
}

func (b *bucket) loadIndex() error {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return err
	}
	for _, entry := range entries {
		if !strings.HasSuffix(entry.Name(), ".meta") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(b.dir, entry.Name()))
		if err != nil {
			return err
		}
		var info ObjectInfo
		if err := json.Unmarshal(raw, &info); err != nil {
			return fmt.Errorf("%s: %w", entry.Name(), err)
		}
		b.objects[info.Name] = info
	}
	return nil
}

// write stores an object atomically: data and metadata land under temporary names first.
func (b *bucket) write(name string, body io.Reader, created time.Time) (ObjectInfo, error) {
	path := objectFile(b.dir, name)
	tmp, err := os.CreateTemp(b.dir, ".upload-*")
	if err != nil {
		return ObjectInfo{}, err
	}
	defer os.Remove(tmp.Name())
	hash := md5.New()
	size, err := io.Copy(io.MultiWriter(tmp, hash), body)
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return ObjectInfo{}, err
	}
	info := ObjectInfo{Name: name, Size: size, MD5: base64.StdEncoding.EncodeToString(hash.Sum(nil)), TimeCreated: created.UTC().Format(time.RFC3339Nano)}
	meta, err := json.Marshal(info)
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := os.WriteFile(path+".meta.tmp", meta, 0o600); err != nil {
		return ObjectInfo{}, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return ObjectInfo{}, err
	}
	if err := os.Rename(path+".meta.tmp", path+".meta"); err != nil {
		return ObjectInfo{}, err
	}
	return info, nil
}

func (s *Store) PAR(id string) (PARSpec, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	par, ok := s.pars[id]
	return par, ok
}

func (s *Store) Put(bucketName, name string, body io.Reader) (ObjectInfo, error) {
	s.mu.RLock()
	b := s.buckets[bucketName]
	s.mu.RUnlock()
	if b == nil {
		return ObjectInfo{}, errNotFound
	}
	if b.readOnly {
		return ObjectInfo{}, errReadOnly
	}
	info, err := b.write(name, body, time.Now())
	if err != nil {
		return ObjectInfo{}, err
	}
	s.mu.Lock()
	b.objects[name] = info
	s.mu.Unlock()
	s.scheduleReplication(bucketName, name)
	return info, nil
}

func (s *Store) Open(bucketName, name string) (*os.File, ObjectInfo, error) {
	s.mu.RLock()
	b := s.buckets[bucketName]
	var info ObjectInfo
	var ok bool
	if b != nil {
		info, ok = b.objects[name]
	}
	s.mu.RUnlock()
	if !ok {
		return nil, ObjectInfo{}, errNotFound
	}
	f, err := os.Open(objectFile(b.dir, name))
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	return f, info, nil
}

// List returns objects with the prefix, sorted by name, from `start` on, at most `limit`, and the
// name to start the next page with ("" on the last page).
func (s *Store) List(bucketName, prefix, start string, limit int) ([]ObjectInfo, string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.buckets[bucketName]
	if b == nil {
		return nil, "", errNotFound
	}
	var names []string
	for name := range b.objects {
		if strings.HasPrefix(name, prefix) && name >= start {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	next := ""
	if len(names) > limit {
		next = names[limit]
		names = names[:limit]
	}
	out := make([]ObjectInfo, 0, len(names))
	for _, name := range names {
		out = append(out, b.objects[name])
	}
	return out, next, nil
}

func (s *Store) scheduleReplication(source, name string) {
	for _, rule := range s.rules {
		if rule.Source != source {
			continue
		}
		s.pending.Add(1)
		go func(rule Replication) {
			defer s.pending.Done()
			select {
			case <-time.After(time.Duration(rule.LagSeconds * float64(time.Second))):
			case <-s.closing:
				return
			}
			if err := s.copy(rule.Source, rule.Destination, name); err != nil {
				fmt.Fprintf(os.Stderr, "replication of %s to %s: %v\n", name, rule.Destination, err)
			}
		}(rule)
	}
}

// copy replicates one object, keeping its creation time, as OCI replication does.
func (s *Store) copy(source, destination, name string) error {
	f, info, err := s.Open(source, name)
	if err != nil {
		return err
	}
	defer f.Close()
	created, _ := time.Parse(time.RFC3339Nano, info.TimeCreated)
	s.mu.RLock()
	dst := s.buckets[destination]
	s.mu.RUnlock()
	copied, err := dst.write(name, f, created)
	if err != nil {
		return err
	}
	s.mu.Lock()
	dst.objects[name] = copied
	s.mu.Unlock()
	return nil
}

// ReconcileReplicas schedules what a previous run had not replicated yet.
func (s *Store) ReconcileReplicas() {
	for _, rule := range s.rules {
		s.mu.RLock()
		var missing []string
		for name, info := range s.buckets[rule.Source].objects {
			if other, ok := s.buckets[rule.Destination].objects[name]; !ok || other.MD5 != info.MD5 {
				missing = append(missing, name)
			}
		}
		s.mu.RUnlock()
		for _, name := range missing {
			s.scheduleReplication(rule.Source, name)
		}
	}
}

func (s *Store) Close() {
	s.closeOne.Do(func() { close(s.closing) })
	s.pending.Wait()
}
