package main

import (
	"net/http"
	"net/url"
	"strings"
)

// servePAR: /p/<secret>/n/<namespace>/b/<bucket>/o/[<object>], OCI's PAR URL. What a PAR allows:
// its access type reads (GET, HEAD) and/or writes (PUT) the objects it covers, and lists them when
// its bucketListingAction is ListObjects. No PAR deletes: OCI grants a write PAR only
// OBJECT_CREATE and OBJECT_OVERWRITE. Anything else is 404, as OCI never says which part failed.
func (srv *Server) servePAR(w http.ResponseWriter, r *http.Request, region string) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.EscapedPath(), "/p/"), "/", 7)
	if len(parts) != 7 || parts[1] != "n" || parts[3] != "b" || parts[5] != "o" {
		writeError(w, parNotFound)
		return
	}
	namespace, err1 := url.PathUnescape(parts[2])
	bucketName, err2 := url.PathUnescape(parts[4])
	name, err3 := url.PathUnescape(parts[6])
	if err1 != nil || err2 != nil || err3 != nil {
		writeError(w, parNotFound)
		return
	}
	p, ok := srv.store.resolvePAR(parts[0], region, namespace, bucketName)
	if !ok {
		writeError(w, parNotFound)
		return
	}
	bucketRegion := p.Region
	if name == "" {
		if r.Method != http.MethodGet || p.BucketListingAction != "ListObjects" || !p.reads() {
			writeError(w, parNotFound)
			return
		}
		listObjects(w, r, srv.store, bucketRegion, bucketName, p.ObjectName)
		return
	}
	if !p.covers(name) {
		writeError(w, parNotFound)
		return
	}
	switch r.Method {
	case http.MethodPut:
		if !p.writes() {
			writeError(w, parNotFound)
			return
		}
		putObject(w, r, srv.store, bucketRegion, bucketName, name)
	case http.MethodGet, http.MethodHead:
		if !p.reads() {
			writeError(w, parNotFound)
			return
		}
		getObject(w, r, srv.store, bucketRegion, bucketName, name)
	case http.MethodDelete:
		writeError(w, parNotFound)
	default:
		methodNotAllowed(w, r)
	}
}

// resolvePAR finds a PAR by its secret and checks it is alive and names this bucket, in this
// namespace, in the region the request reached.
func (s *Store) resolvePAR(token, region, namespace, bucketName string) (*par, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.pars[token]
	if p == nil || p.Bucket != bucketName {
		return nil, false
	}
	if !p.TimeExpires.IsZero() && !s.now().Before(p.TimeExpires) {
		return nil, false
	}
	b := s.buckets[bucketKey{p.Region, p.Bucket}]
	if b == nil || b.Namespace != namespace {
		return nil, false
	}
	// A regional endpoint serves its own region's buckets; region-less addresses serve all.
	if region != "" && b.Region != "" && b.Region != region {
		return nil, false
	}
	copied := *p
	return &copied, true
}

func (s *Store) unreachable(region string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.unreachableLocked(region)
}

func (s *Store) Faults() Faults {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := s.faults
	if f.UnreachableRegions == nil {
		f.UnreachableRegions = []string{}
	}
	return f
}

func (s *Store) SetFaults(f Faults) error {
	for _, region := range f.UnreachableRegions {
		if !s.regions[region] {
			return invalid("unreachableRegions names %q, which is not one of the emulator's regions", region)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	return nil
}
