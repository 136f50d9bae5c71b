package main

import (
	"log"
	"sort"
	"time"
)

// Object lifecycle policies: per bucket, rules that delete objects some days after their last
// modification. The emulator models DELETE rules on objects filtered by name prefixes, which is
// what etcd-dr's retention uses; a lifecycle "day" lasts Config.DayLengthSeconds.

type objectNameFilter struct {
	InclusionPrefixes []string `json:"inclusionPrefixes,omitempty"`
	InclusionPatterns []string `json:"inclusionPatterns,omitempty"`
	ExclusionPatterns []string `json:"exclusionPatterns,omitempty"`
}

type lifecycleRule struct {
	Name             string            `json:"name"`
	Target           string            `json:"target"`
	Action           string            `json:"action"`
	TimeAmount       int64             `json:"timeAmount"`
	TimeUnit         string            `json:"timeUnit"`
	IsEnabled        *bool             `json:"isEnabled"`
	ObjectNameFilter *objectNameFilter `json:"objectNameFilter,omitempty"`
}

type lifecyclePolicy struct {
	TimeCreated time.Time       `json:"timeCreated"`
	Items       []lifecycleRule `json:"items"`
}

// checkLifecycle validates a PutObjectLifecyclePolicy body the way OCI would, and refuses what
// the emulator does not model rather than ignoring it.
func checkLifecycle(l *lifecyclePolicy) error {
	if l.Items == nil {
		return missing("items", "the list of lifecycle rules ([] for none)")
	}
	names := map[string]bool{}
	for i := range l.Items {
		r := &l.Items[i]
		switch {
		case r.Name == "":
			return missing("items[].name", "every rule a name")
		case names[r.Name]:
			return invalid("two lifecycle rules are named %q; name each rule once", r.Name)
		case r.Action == "":
			return missing("items[].action", "DELETE")
		case r.Action != "DELETE":
			return invalid("rule %q: action %q is not modelled by the lab's emulator; use DELETE", r.Name, r.Action)
		case r.Target != "" && r.Target != "objects":
			return invalid("rule %q: target %q is not modelled by the lab's emulator; use objects", r.Name, r.Target)
		case r.TimeAmount <= 0:
			return invalid("rule %q: timeAmount must be a positive number of days or years", r.Name)
		case r.TimeUnit != "DAYS" && r.TimeUnit != "YEARS":
			return invalid("rule %q: timeUnit must be DAYS or YEARS", r.Name)
		case r.IsEnabled == nil:
			return missing("items[].isEnabled", "true or false for every rule")
		case r.ObjectNameFilter != nil && (len(r.ObjectNameFilter.InclusionPatterns) > 0 || len(r.ObjectNameFilter.ExclusionPatterns) > 0):
			return invalid("rule %q: name patterns are not modelled by the lab's emulator; use objectNameFilter.inclusionPrefixes", r.Name)
		}
		names[r.Name] = true
		if r.Target == "" {
			r.Target = "objects"
		}
	}
	return nil
}

func (r *lifecycleRule) matches(name string) bool {
	if r.ObjectNameFilter == nil || len(r.ObjectNameFilter.InclusionPrefixes) == 0 {
		return true
	}
	for _, prefix := range r.ObjectNameFilter.InclusionPrefixes {
		if len(name) >= len(prefix) && name[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

func (s *Store) lifecycleLoop() {
	defer s.work.Done()
	ticker := time.NewTicker(s.cfg.lifecycleInterval())
	defer ticker.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-ticker.C:
			s.applyLifecycle()
		}
	}
}

// applyLifecycle deletes what the rules say has expired. A replication destination is skipped:
// it is read-only, and the source's own deletes reach it through replication.
func (s *Store) applyLifecycle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	now := s.now()
	day := s.cfg.dayLength()
	for _, b := range s.buckets {
		if b.lifecycle == nil || s.readOnly(b) {
			continue
		}
		var expired []string
		for name, o := range b.objects {
			for _, r := range b.lifecycle.Items {
				age := time.Duration(r.TimeAmount) * day
				if r.TimeUnit == "YEARS" {
					age *= 365
				}
				if *r.IsEnabled && r.matches(name) && now.Sub(o.TimeModified) >= age {
					expired = append(expired, name)
					break
				}
			}
		}
		sort.Strings(expired)
		for _, name := range expired {
			if err := s.removeLocked(b, name); err != nil {
				log.Printf("lifecycle delete of %s in %s: %v", name, b.Name, err)
				continue
			}
			s.changedLocked(b, name, nil)
		}
	}
}
