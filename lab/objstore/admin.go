package main

import (
	"log"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// The admin API: the lab's Object Storage control plane, with OCI's paths, JSON field names and
// errors. A request acts in the region of the address it arrived at, as OCI's regional endpoints
// do: buckets are looked up, and created, in that region.
//
//	GET    /n/                                          the namespace, as a JSON string
//	GET    /n/{ns}/b/[?compartmentId=]                  buckets of this region
//	POST   /n/{ns}/b/                                   CreateBucket {name, compartmentId?}
//	GET    /n/{ns}/b/{bucket}      HEAD, DELETE
//	GET    /n/{ns}/b/{bucket}/o/   ListObjects (the PAR listing's query)
//	GET    /n/{ns}/b/{bucket}/o/{object}  HEAD, PUT, DELETE
//	GET    /n/{ns}/b/{bucket}/p/   POST                 PARs
//	GET    /n/{ns}/b/{bucket}/p/{id}  DELETE
//	GET    /n/{ns}/b/{bucket}/replicationPolicies  POST
//	GET    /n/{ns}/b/{bucket}/replicationPolicies/{id}  DELETE
//	GET    /n/{ns}/b/{bucket}/replicationSources
//	POST   /n/{ns}/b/{bucket}/actions/makeBucketWritable
//	PUT    /n/{ns}/b/{bucket}/l    GET, DELETE          the object lifecycle policy

func (srv *Server) serveAdmin(w http.ResponseWriter, r *http.Request, region string) {
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.EscapedPath(), "/n"), "/")
	if rest == "" {
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r)
			return
		}
		writeJSON(w, http.StatusOK, srv.store.namespace)
		return
	}
	nsRaw, rest, _ := strings.Cut(rest, "/")
	namespace, err := url.PathUnescape(nsRaw)
	if err != nil || namespace != srv.store.namespace {
		writeError(w, newError(http.StatusNotFound, "NamespaceNotFound", "The namespace '%s' does not exist or you are not authorized to access it; GET /n/ names this tenancy's namespace", nsRaw))
		return
	}
	kind, rest, _ := strings.Cut(rest, "/")
	if kind != "b" {
		writeError(w, newError(http.StatusNotFound, "NotFound", "There is no operation at %s", r.URL.Path))
		return
	}
	if region == "" {
		writeError(w, invalid("this address belongs to no region, and buckets live in regions; send the request to an address listed under regions in the emulator's config"))
		return
	}
	bucketRaw, rest, hasRest := strings.Cut(rest, "/")
	if bucketRaw == "" {
		srv.bucketCollection(w, r, region)
		return
	}
	bucketName, err := url.PathUnescape(bucketRaw)
	if err != nil {
		writeError(w, invalid("the bucket name in the path is not URL-encoded correctly"))
		return
	}
	if !hasRest {
		srv.bucketItem(w, r, region, bucketName)
		return
	}
	sub, rest, _ := strings.Cut(rest, "/")
	item, err := url.PathUnescape(rest)
	if err != nil {
		writeError(w, invalid("the path is not URL-encoded correctly"))
		return
	}
	switch {
	case sub == "" && rest == "":
		srv.bucketItem(w, r, region, bucketName)
	case sub == "o" && item == "":
		only(w, r, http.MethodGet, func() { listObjects(w, r, srv.store, region, bucketName, "") })
	case sub == "o":
		srv.objectItem(w, r, region, bucketName, item)
	case sub == "p" && item == "":
		srv.parCollection(w, r, region, bucketName)
	case sub == "p":
		srv.parItem(w, r, region, bucketName, item)
	case sub == "replicationPolicies" && item == "":
		srv.policyCollection(w, r, region, bucketName)
	case sub == "replicationPolicies":
		srv.policyItem(w, r, region, bucketName, item)
	case sub == "replicationSources" && item == "":
		only(w, r, http.MethodGet, func() { srv.replicationSources(w, region, bucketName) })
	case sub == "actions" && item == "makeBucketWritable":
		only(w, r, http.MethodPost, func() { srv.makeWritable(w, region, bucketName) })
	case sub == "l" && item == "":
		srv.lifecycle(w, r, region, bucketName)
	default:
		writeError(w, newError(http.StatusNotFound, "NotFound", "There is no operation at %s", r.URL.Path))
	}
}

func only(w http.ResponseWriter, r *http.Request, method string, serve func()) {
	if r.Method != method {
		methodNotAllowed(w, r)
		return
	}
	serve()
}

// --- buckets ---

type bucketJSON struct {
	Namespace          string  `json:"namespace"`
	Name               string  `json:"name"`
	CompartmentID      string  `json:"compartmentId"`
	Region             string  `json:"region"`
	ID                 string  `json:"id"`
	ETag               string  `json:"etag"`
	TimeCreated        string  `json:"timeCreated"`
	IsReadOnly         bool    `json:"isReadOnly"`
	ReplicationEnabled bool    `json:"replicationEnabled"`
	PublicAccessType   string  `json:"publicAccessType"`
	StorageTier        string  `json:"storageTier"`
	Versioning         string  `json:"versioning"`
	ApproximateCount   int64   `json:"approximateCount"`
	ApproximateSize    int64   `json:"approximateSize"`
	LifecycleEtag      *string `json:"objectLifecyclePolicyEtag"`
}

func (s *Store) bucketJSONLocked(b *bucket) bucketJSON {
	out := bucketJSON{
		Namespace: b.Namespace, Name: b.Name, CompartmentID: b.CompartmentID, Region: b.Region, ID: b.ID, ETag: b.ETag,
		TimeCreated: formatTime(b.TimeCreated), IsReadOnly: s.readOnly(b), ReplicationEnabled: s.policyFrom(b.key()) != nil,
		PublicAccessType: "NoPublicAccess", StorageTier: "Standard", Versioning: "Disabled",
	}
	for _, o := range b.objects {
		out.ApproximateCount++
		out.ApproximateSize += o.Size
	}
	if b.lifecycle != nil {
		etag := formatTime(b.lifecycle.TimeCreated)
		out.LifecycleEtag = &etag
	}
	return out
}

func (srv *Server) bucketCollection(w http.ResponseWriter, r *http.Request, region string) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, srv.store.ListBuckets(region, r.URL.Query().Get("compartmentId")))
	case http.MethodPost:
		var body struct {
			Name          string `json:"name"`
			CompartmentID string `json:"compartmentId"`
		}
		if err := decodeBody(r, &body); err != nil {
			writeError(w, err)
			return
		}
		b, err := srv.store.CreateBucket(region, body.Name, body.CompartmentID)
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("ETag", b.ETag)
		writeJSON(w, http.StatusOK, b)
	default:
		methodNotAllowed(w, r)
	}
}

func (srv *Server) bucketItem(w http.ResponseWriter, r *http.Request, region, name string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		b, err := srv.store.GetBucket(region, name)
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("ETag", b.ETag)
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		writeJSON(w, http.StatusOK, b)
	case http.MethodDelete:
		if err := srv.store.DeleteBucket(region, name); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, r)
	}
}

func (s *Store) ListBuckets(region, compartmentID string) []map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []map[string]string{}
	for _, b := range s.buckets {
		if b.Region == region && (compartmentID == "" || b.CompartmentID == compartmentID) {
			out = append(out, map[string]string{"namespace": b.Namespace, "name": b.Name, "compartmentId": b.CompartmentID, "etag": b.ETag, "timeCreated": formatTime(b.TimeCreated)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["name"] < out[j]["name"] })
	return out
}

func (s *Store) CreateBucket(region, name, compartmentID string) (bucketJSON, error) {
	if name == "" {
		return bucketJSON{}, missing("name", "the bucket's name")
	}
	if problem := bucketNameProblem(name); problem != "" {
		return bucketJSON{}, invalid("%s", problem)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[bucketKey{region, name}] != nil {
		return bucketJSON{}, newError(http.StatusConflict, "BucketAlreadyExists", "Either the bucket '%s' in namespace '%s' already exists or you are not authorized to create it", name, s.namespace)
	}
	b := &bucket{Namespace: s.namespace, Name: name, Region: region, CompartmentID: compartmentID, ID: "ocid1.bucket.lab." + region + "." + randomID(18), ETag: newETag(), TimeCreated: s.now().UTC()}
	// A bucket of the same name deleted earlier leaves nothing behind for the new one to find.
	if err := removeAll(s.bucketDir(region, name)); err != nil {
		return bucketJSON{}, err
	}
	if err := s.openBucket(b); err != nil {
		return bucketJSON{}, err
	}
	if err := s.saveLocked(); err != nil {
		delete(s.buckets, b.key())
		return bucketJSON{}, err
	}
	log.Printf("created bucket %s in region %s", name, region)
	return s.bucketJSONLocked(b), nil
}

func (s *Store) GetBucket(region, name string) (bucketJSON, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.bucketIn(region, name)
	if b == nil {
		return bucketJSON{}, bucketNotFound(s.namespace, name)
	}
	return s.bucketJSONLocked(b), nil
}

func (s *Store) DeleteBucket(region, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketIn(region, name)
	if b == nil {
		return bucketNotFound(s.namespace, name)
	}
	if b.static {
		return conflict("bucket %s comes from the emulator's static config and cannot be deleted", name)
	}
	if len(b.objects) > 0 {
		return newError(http.StatusConflict, "BucketNotEmpty", "Bucket named '%s' is not empty. Delete all objects first.", name)
	}
	if p := s.policyFrom(b.key()); p != nil {
		return conflict("bucket %s is the source of replication policy %s; delete the policy first", name, p.ID)
	}
	if p := s.policyInto(b.key()); p != nil {
		return conflict("bucket %s is the destination of replication policy %s; call makeBucketWritable on it first", name, p.ID)
	}
	for _, p := range s.pars {
		if p.Region == b.Region && p.Bucket == b.Name {
			return conflict("bucket %s still has pre-authenticated requests; delete them first", name)
		}
	}
	delete(s.buckets, b.key())
	if err := s.saveLocked(); err != nil {
		s.buckets[b.key()] = b
		return err
	}
	log.Printf("deleted bucket %s in region %s", name, region)
	return removeAll(b.dir)
}

// --- objects through the admin API ---

func (srv *Server) objectItem(w http.ResponseWriter, r *http.Request, region, bucketName, name string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		getObject(w, r, srv.store, region, bucketName, name)
	case http.MethodPut:
		putObject(w, r, srv.store, region, bucketName, name)
	case http.MethodDelete:
		if err := srv.store.DeleteObject(region, bucketName, name, r.Header.Get("if-match")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, r)
	}
}

// --- PARs ---

type parJSON struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	AccessType          string `json:"accessType"`
	ObjectName          string `json:"objectName,omitempty"`
	BucketListingAction string `json:"bucketListingAction"`
	TimeExpires         string `json:"timeExpires"`
	TimeCreated         string `json:"timeCreated"`
	AccessURI           string `json:"accessUri,omitempty"`
	FullPath            string `json:"fullPath,omitempty"`
}

func summary(p *par) parJSON {
	out := parJSON{ID: p.ID, Name: p.Name, AccessType: p.AccessType, ObjectName: p.ObjectName, BucketListingAction: p.BucketListingAction, TimeCreated: formatTime(p.TimeCreated)}
	if !p.TimeExpires.IsZero() {
		out.TimeExpires = formatTime(p.TimeExpires)
	}
	return out
}

// escapeObjectName escapes each segment and keeps the slashes, as object URLs do.
func escapeObjectName(name string) string {
	segments := strings.Split(name, "/")
	for i, segment := range segments {
		segments[i] = url.PathEscape(segment)
	}
	return strings.Join(segments, "/")
}

func (srv *Server) parCollection(w http.ResponseWriter, r *http.Request, region, bucketName string) {
	switch r.Method {
	case http.MethodGet:
		pars, err := srv.store.ListPARs(region, bucketName, r.URL.Query().Get("objectNamePrefix"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, pars)
	case http.MethodPost:
		var body struct {
			Name                string `json:"name"`
			AccessType          string `json:"accessType"`
			ObjectName          string `json:"objectName"`
			BucketListingAction string `json:"bucketListingAction"`
			TimeExpires         string `json:"timeExpires"`
		}
		if err := decodeBody(r, &body); err != nil {
			writeError(w, err)
			return
		}
		p, err := srv.store.CreatePAR(region, bucketName, body.Name, body.AccessType, body.ObjectName, body.BucketListingAction, body.TimeExpires)
		if err != nil {
			writeError(w, err)
			return
		}
		out := summary(p)
		out.AccessURI = "/p/" + p.Token + "/n/" + url.PathEscape(srv.store.namespace) + "/b/" + url.PathEscape(bucketName) + "/o/"
		if !p.anyObject() {
			out.AccessURI += escapeObjectName(p.ObjectName)
		}
		out.FullPath = "http://" + localAddress(r) + out.AccessURI
		writeJSON(w, http.StatusOK, out)
	default:
		methodNotAllowed(w, r)
	}
}

// getOrDelete answers an admin item the way OCI does: GET returns it as JSON, DELETE answers 204.
func getOrDelete[T any](w http.ResponseWriter, r *http.Request, get func() (T, error), remove func() error) {
	switch r.Method {
	case http.MethodGet:
		item, err := get()
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, item)
	case http.MethodDelete:
		if err := remove(); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, r)
	}
}

func (srv *Server) parItem(w http.ResponseWriter, r *http.Request, region, bucketName, id string) {
	getOrDelete(w, r,
		func() (parJSON, error) { return srv.store.GetPAR(region, bucketName, id) },
		func() error { return srv.store.DeletePAR(region, bucketName, id) })
}

func (s *Store) CreatePAR(region, bucketName, name, accessType, objectName, listing, expires string) (*par, error) {
	switch {
	case name == "":
		return nil, missing("name", "the pre-authenticated request a name")
	case accessType == "":
		return nil, missing("accessType", "ObjectRead, ObjectWrite, ObjectReadWrite, AnyObjectRead, AnyObjectWrite or AnyObjectReadWrite")
	case !accessTypes[accessType]:
		return nil, invalid("accessType %q is not ObjectRead, ObjectWrite, ObjectReadWrite, AnyObjectRead, AnyObjectWrite or AnyObjectReadWrite", accessType)
	case !strings.HasPrefix(accessType, "AnyObject") && objectName == "":
		return nil, missing("objectName", "the object an "+accessType+" request is for")
	case expires == "":
		return nil, missing("timeExpires", "an RFC 3339 time in the future")
	}
	when, err := time.Parse(time.RFC3339, expires)
	if err != nil {
		return nil, invalid("timeExpires %q is not an RFC 3339 time (e.g. 2027-06-30T00:00:00Z)", expires)
	}
	if !when.After(s.now()) {
		return nil, invalid("timeExpires %s is not in the future; give a later time", expires)
	}
	switch listing {
	case "":
		listing = "Deny"
	case "Deny":
	case "ListObjects":
		if accessType != "AnyObjectRead" && accessType != "AnyObjectReadWrite" {
			return nil, invalid("bucketListingAction ListObjects needs accessType AnyObjectRead or AnyObjectReadWrite, not %s", accessType)
		}
	default:
		return nil, invalid("bucketListingAction %q is not Deny or ListObjects", listing)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		return nil, bucketNotFound(s.namespace, bucketName)
	}
	p := &par{ID: randomID(36), Token: randomID(48), Name: name, Region: b.Region, Bucket: b.Name, AccessType: accessType, ObjectName: objectName, BucketListingAction: listing, TimeExpires: when.UTC(), TimeCreated: s.now().UTC()}
	s.pars[p.Token] = p
	if err := s.saveLocked(); err != nil {
		delete(s.pars, p.Token)
		return nil, err
	}
	log.Printf("created %s PAR %s on bucket %s in region %s", accessType, p.ID, bucketName, region)
	copied := *p
	return &copied, nil
}

func (s *Store) ListPARs(region, bucketName, prefix string) ([]parJSON, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		return nil, bucketNotFound(s.namespace, bucketName)
	}
	out := []parJSON{}
	for _, p := range s.pars {
		if p.Region == b.Region && p.Bucket == b.Name && strings.HasPrefix(p.ObjectName, prefix) {
			out = append(out, summary(p))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TimeCreated+out[i].ID < out[j].TimeCreated+out[j].ID })
	return out, nil
}

func (s *Store) findPARLocked(b *bucket, id string) *par {
	for _, p := range s.pars {
		if p.ID == id && p.Region == b.Region && p.Bucket == b.Name {
			return p
		}
	}
	return nil
}

func parItemNotFound(id string) *apiError {
	return newError(http.StatusNotFound, "NotAuthorizedOrNotFound", "There is no pre-authenticated request %s on this bucket", id)
}

func (s *Store) GetPAR(region, bucketName, id string) (parJSON, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		return parJSON{}, bucketNotFound(s.namespace, bucketName)
	}
	p := s.findPARLocked(b, id)
	if p == nil {
		return parJSON{}, parItemNotFound(id)
	}
	return summary(p), nil
}

func (s *Store) DeletePAR(region, bucketName, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		return bucketNotFound(s.namespace, bucketName)
	}
	p := s.findPARLocked(b, id)
	if p == nil {
		return parItemNotFound(id)
	}
	if p.static {
		return conflict("pre-authenticated request %s comes from the emulator's static config and cannot be deleted", id)
	}
	delete(s.pars, p.Token)
	if err := s.saveLocked(); err != nil {
		s.pars[p.Token] = p
		return err
	}
	log.Printf("deleted PAR %s of bucket %s in region %s", id, bucketName, region)
	return nil
}

// --- replication policies ---

type policyJSON struct {
	ID                    string `json:"id"`
	Name                  string `json:"name"`
	DestinationRegionName string `json:"destinationRegionName"`
	DestinationBucketName string `json:"destinationBucketName"`
	TimeCreated           string `json:"timeCreated"`
	TimeLastSync          string `json:"timeLastSync"`
	Status                string `json:"status"`
	StatusMessage         string `json:"statusMessage"`
}

func (s *Store) policyJSONLocked(p *policy) policyJSON {
	return policyJSON{
		ID: p.ID, Name: p.Name, DestinationRegionName: p.DestinationRegion, DestinationBucketName: p.DestinationBucket,
		TimeCreated: formatTime(p.TimeCreated), TimeLastSync: formatTime(s.timeLastSyncLocked(p)), Status: "ACTIVE",
	}
}

func (srv *Server) policyCollection(w http.ResponseWriter, r *http.Request, region, bucketName string) {
	switch r.Method {
	case http.MethodGet:
		policies, err := srv.store.ListPolicies(region, bucketName)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, policies)
	case http.MethodPost:
		var body struct {
			Name                  string `json:"name"`
			DestinationRegionName string `json:"destinationRegionName"`
			DestinationBucketName string `json:"destinationBucketName"`
		}
		if err := decodeBody(r, &body); err != nil {
			writeError(w, err)
			return
		}
		p, err := srv.store.CreatePolicy(region, bucketName, body.Name, body.DestinationRegionName, body.DestinationBucketName)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	default:
		methodNotAllowed(w, r)
	}
}

func (srv *Server) policyItem(w http.ResponseWriter, r *http.Request, region, bucketName, id string) {
	getOrDelete(w, r,
		func() (policyJSON, error) { return srv.store.GetPolicy(region, bucketName, id) },
		func() error { return srv.store.DeletePolicy(region, bucketName, id) })
}

// CreatePolicy is called in the source bucket's region. From now on, and only from now on, the
// source's writes and deletes reach the destination, which becomes read-only.
func (s *Store) CreatePolicy(region, bucketName, name, destRegion, destBucket string) (policyJSON, error) {
	switch {
	case name == "":
		return policyJSON{}, missing("name", "the replication policy a name")
	case destRegion == "":
		return policyJSON{}, missing("destinationRegionName", "the region of the destination bucket")
	case destBucket == "":
		return policyJSON{}, missing("destinationBucketName", "the bucket to replicate into")
	case !s.regions[destRegion]:
		return policyJSON{}, invalid("destinationRegionName %q is not a region of this emulator; the regions are %s", destRegion, strings.Join(s.regionNames(), ", "))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.bucketIn(region, bucketName)
	if src == nil {
		return policyJSON{}, bucketNotFound(s.namespace, bucketName)
	}
	dst := s.buckets[bucketKey{destRegion, destBucket}]
	switch {
	case dst == nil:
		return policyJSON{}, newError(http.StatusBadRequest, "RelatedResourceNotAuthorizedOrNotFound", "the destination bucket %s does not exist in region %s; create it before the policy", destBucket, destRegion)
	case dst == src:
		return policyJSON{}, invalid("a bucket cannot replicate into itself; name another destination")
	case s.policyFrom(src.key()) != nil:
		return policyJSON{}, conflict("bucket %s already has a replication policy, and a source bucket has only one", bucketName)
	case s.policyInto(src.key()) != nil:
		return policyJSON{}, conflict("bucket %s is a replication destination (read-only) and cannot be a source", bucketName)
	case s.policyInto(dst.key()) != nil:
		return policyJSON{}, conflict("bucket %s in %s is already the destination of a replication policy", destBucket, destRegion)
	case s.policyFrom(dst.key()) != nil:
		return policyJSON{}, conflict("bucket %s in %s is the source of a replication policy and cannot be a destination", destBucket, destRegion)
	}
	p := &policy{ID: newETag(), Name: name, SourceRegion: src.Region, SourceBucket: src.Name, DestinationRegion: dst.Region, DestinationBucket: dst.Name, TimeCreated: s.now().UTC(), lag: s.cfg.adminLag()}
	s.policies[p.ID] = p
	if err := s.saveLocked(); err != nil {
		delete(s.policies, p.ID)
		return policyJSON{}, err
	}
	log.Printf("replication policy %s: %s/%s -> %s/%s", p.ID, src.Region, src.Name, dst.Region, dst.Name)
	return s.policyJSONLocked(p), nil
}

func (s *Store) regionNames() []string {
	names := make([]string, 0, len(s.regions))
	for name := range s.regions {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func (s *Store) ListPolicies(region, bucketName string) ([]policyJSON, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		return nil, bucketNotFound(s.namespace, bucketName)
	}
	out := []policyJSON{}
	if p := s.policyFrom(b.key()); p != nil {
		out = append(out, s.policyJSONLocked(p))
	}
	return out, nil
}

func policyNotFound(id string) *apiError {
	return newError(http.StatusNotFound, "NotAuthorizedOrNotFound", "There is no replication policy %s on this bucket", id)
}

func (s *Store) GetPolicy(region, bucketName, id string) (policyJSON, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		return policyJSON{}, bucketNotFound(s.namespace, bucketName)
	}
	p := s.policies[id]
	if p == nil || p.source() != b.key() {
		return policyJSON{}, policyNotFound(id)
	}
	return s.policyJSONLocked(p), nil
}

// DeletePolicy, in the source's region: replication stops and the destination is writable again.
func (s *Store) DeletePolicy(region, bucketName, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		return bucketNotFound(s.namespace, bucketName)
	}
	p := s.policies[id]
	if p == nil || p.source() != b.key() {
		return policyNotFound(id)
	}
	log.Printf("deleted replication policy %s", id)
	return s.endPolicyLocked(p)
}

func (srv *Server) replicationSources(w http.ResponseWriter, region, bucketName string) {
	s := srv.store
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		writeError(w, bucketNotFound(s.namespace, bucketName))
		return
	}
	out := []map[string]string{}
	if p := s.policyInto(b.key()); p != nil {
		out = append(out, map[string]string{"policyName": p.Name, "sourceRegionName": p.SourceRegion, "sourceBucketName": p.SourceBucket})
	}
	writeJSON(w, http.StatusOK, out)
}

// makeWritable, in the destination's region: ends the policy that replicates into the bucket
// (OCI's MakeBucketWritable removes it). It needs nothing from the source's region, so it works
// while that region is down. A bucket that is writable already stays so.
func (srv *Server) makeWritable(w http.ResponseWriter, region, bucketName string) {
	s := srv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketIn(region, bucketName)
	if b == nil {
		writeError(w, bucketNotFound(s.namespace, bucketName))
		return
	}
	if p := s.policyInto(b.key()); p != nil {
		if err := s.endPolicyLocked(p); err != nil {
			writeError(w, err)
			return
		}
		log.Printf("bucket %s in region %s made writable; replication policy %s ended", bucketName, region, p.ID)
	}
	w.WriteHeader(http.StatusOK)
}

// --- lifecycle ---

func (srv *Server) lifecycle(w http.ResponseWriter, r *http.Request, region, bucketName string) {
	s := srv.store
	switch r.Method {
	case http.MethodPut:
		var l lifecyclePolicy
		if err := decodeBody(r, &l); err != nil {
			writeError(w, err)
			return
		}
		if err := checkLifecycle(&l); err != nil {
			writeError(w, err)
			return
		}
		l.TimeCreated = s.now().UTC()
		s.mu.Lock()
		defer s.mu.Unlock()
		b := s.bucketIn(region, bucketName)
		if b == nil {
			writeError(w, bucketNotFound(s.namespace, bucketName))
			return
		}
		previous := b.lifecycle
		b.lifecycle = &l
		if err := s.saveLocked(); err != nil {
			b.lifecycle = previous
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, l)
	case http.MethodGet:
		s.mu.RLock()
		defer s.mu.RUnlock()
		b := s.bucketIn(region, bucketName)
		switch {
		case b == nil:
			writeError(w, bucketNotFound(s.namespace, bucketName))
		case b.lifecycle == nil:
			writeError(w, newError(http.StatusNotFound, "LifecyclePolicyNotFound", "There is no lifecycle policy for the bucket '%s'", bucketName))
		default:
			writeJSON(w, http.StatusOK, b.lifecycle)
		}
	case http.MethodDelete:
		s.mu.Lock()
		defer s.mu.Unlock()
		b := s.bucketIn(region, bucketName)
		if b == nil {
			writeError(w, bucketNotFound(s.namespace, bucketName))
			return
		}
		previous := b.lifecycle
		b.lifecycle = nil
		if err := s.saveLocked(); err != nil {
			b.lifecycle = previous
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, r)
	}
}
