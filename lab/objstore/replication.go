package main

import (
	"log"
	"os"
	"path/filepath"
	"time"
)

// Replication as OCI does it: asynchronous and per object. Each write or delete in a source
// bucket becomes one event, due after its own lag (base + size/bandwidth + random jitter), so
// objects arrive in no particular order. An event carries what changed, not the bytes: when it is
// due it copies the source's current version if that is still the version it was made for, and a
// delete removes the replica only if the source still lacks the object. Whatever the order, the
// replica converges on the source.

type replEvent struct {
	policy  string
	name    string
	etag    string // the version to copy; "" for a delete
	changed time.Time
	timer   *time.Timer
}

// How often a blocked event (paused replication, unreachable region) looks again.
const replicationRetry = 100 * time.Millisecond

func (s *Store) delayLocked(p *policy, size int64, isDelete bool) time.Duration {
	d := p.lag.base
	if !isDelete && p.lag.bytesPerSecond > 0 {
		d += time.Duration(float64(size) / p.lag.bytesPerSecond * float64(time.Second))
	}
	if p.lag.jitter > 0 {
		d += time.Duration(s.rng.Float64() * float64(p.lag.jitter))
	}
	return d
}

func (s *Store) scheduleLocked(ev *replEvent, delay time.Duration) {
	s.pending[ev] = struct{}{}
	s.work.Add(1)
	ev.timer = time.AfterFunc(delay, func() { s.fire(ev) })
}

// changedLocked: an object of b was written (o) or deleted (o == nil); replicate the change if b
// is a source. Only changes after a policy exists are replicated, because only then is there a
// policy to find here.
func (s *Store) changedLocked(b *bucket, name string, o *object) {
	p := s.policyFrom(b.key())
	if p == nil {
		return
	}
	if o == nil {
		s.scheduleLocked(&replEvent{policy: p.ID, name: name, changed: s.now()}, s.delayLocked(p, 0, true))
		return
	}
	s.scheduleLocked(&replEvent{policy: p.ID, name: name, etag: o.ETag, changed: o.TimeModified}, s.delayLocked(p, o.Size, false))
}

// reconcileLocked, at start: replicate what a previous run had left pending. Only objects the
// policy covers: written after it was created (a static policy covers everything, it exists from
// the start of the world), and deletes of objects it had copied.
func (s *Store) reconcileLocked(p *policy) {
	src, dst := s.buckets[p.source()], s.buckets[p.destination()]
	for name, o := range src.objects {
		if !p.static && o.TimeModified.Before(p.TimeCreated) {
			continue
		}
		if d := dst.objects[name]; d == nil || d.ETag != o.ETag {
			s.scheduleLocked(&replEvent{policy: p.ID, name: name, etag: o.ETag, changed: o.TimeModified}, s.delayLocked(p, o.Size, false))
		}
	}
	for name, d := range dst.objects {
		if d.ReplicatedBy == p.ID && src.objects[name] == nil {
			s.scheduleLocked(&replEvent{policy: p.ID, name: name, changed: s.now()}, s.delayLocked(p, 0, true))
		}
	}
}

func (s *Store) blockedLocked(p *policy) bool {
	return s.faults.ReplicationPaused || s.unreachableLocked(p.SourceRegion) || s.unreachableLocked(p.DestinationRegion)
}

func (s *Store) unreachableLocked(region string) bool {
	for _, r := range s.faults.UnreachableRegions {
		if r == region && region != "" {
			return true
		}
	}
	return false
}

func (s *Store) fire(ev *replEvent) {
	defer s.work.Done()
	s.mu.Lock()
	p := s.policies[ev.policy]
	if s.closed || p == nil {
		delete(s.pending, ev)
		s.mu.Unlock()
		return
	}
	if s.blockedLocked(p) {
		s.work.Add(1)
		ev.timer = time.AfterFunc(replicationRetry, func() { s.fire(ev) })
		s.mu.Unlock()
		return
	}
	src, dst := s.buckets[p.source()], s.buckets[p.destination()]
	if ev.etag == "" {
		if src.objects[ev.name] == nil && dst.objects[ev.name] != nil {
			if err := s.removeLocked(dst, ev.name); err != nil {
				s.retryLocked(ev, err)
				s.mu.Unlock()
				return
			}
		}
		delete(s.pending, ev)
		s.mu.Unlock()
		return
	}
	o := src.objects[ev.name]
	if o == nil || o.ETag != ev.etag || (dst.objects[ev.name] != nil && dst.objects[ev.name].ETag == ev.etag) {
		delete(s.pending, ev) // a later event carries the newer version, or this one is there
		s.mu.Unlock()
		return
	}
	version := *o
	f, err := os.Open(filepath.Join(src.dir, o.Data))
	s.mu.Unlock()
	if err != nil {
		s.mu.Lock()
		s.retryLocked(ev, err)
		s.mu.Unlock()
		return
	}
	st, err := stage(dst.dir, f, version.Size)
	f.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.retryLocked(ev, err)
		return
	}
	current := src.objects[ev.name]
	if s.closed || s.policies[ev.policy] != p || s.buckets[p.destination()] != dst || current == nil || current.ETag != ev.etag {
		_ = os.Remove(st.path) // the policy ended, or the source moved on while the bytes were copied
		delete(s.pending, ev)
		return
	}
	// Name, MD5 and ETag are replicated; the creation time is the replica's own (OCI's docs).
	now := s.now().UTC()
	replica := &object{Name: version.Name, Size: version.Size, MD5: version.MD5, ETag: version.ETag, TimeCreated: now, TimeModified: now, ReplicatedBy: p.ID}
	if err := s.commitLocked(dst, replica, st); err != nil {
		s.retryLocked(ev, err)
		return
	}
	delete(s.pending, ev)
}

// retryLocked: a disk error; log it and try the event again shortly.
func (s *Store) retryLocked(ev *replEvent, err error) {
	log.Printf("replication of %s: %v; retrying", ev.name, err)
	s.work.Add(1)
	ev.timer = time.AfterFunc(time.Second, func() { s.fire(ev) })
}

// dropPendingLocked forgets the events of a policy that ended.
func (s *Store) dropPendingLocked(policyID string) {
	for ev := range s.pending {
		if ev.policy == policyID {
			if ev.timer.Stop() {
				s.work.Done()
			}
			delete(s.pending, ev)
		}
	}
}

// timeLastSyncLocked: every change to the source before this time is in the destination.
func (s *Store) timeLastSyncLocked(p *policy) time.Time {
	last := s.now()
	for ev := range s.pending {
		if ev.policy == p.ID && ev.changed.Before(last) {
			last = ev.changed
		}
	}
	return last
}

// endPolicyLocked: the destination is writable again and nothing more is replicated into it.
func (s *Store) endPolicyLocked(p *policy) error {
	delete(s.policies, p.ID)
	s.dropPendingLocked(p.ID)
	if p.static {
		s.stoppedStatic[p.ID] = true
	}
	return s.saveLocked()
}
