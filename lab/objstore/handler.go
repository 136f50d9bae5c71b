package main

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Server answers HTTP for every address: /p/... the PAR data path, /n/... the admin API (the lab's
// Object Storage control plane, bearer token), /lab/faults the test switches.
type Server struct {
	store *Store
	token []byte
}

func NewServer(store *Store, token []byte) *Server {
	return &Server{store: store, token: token}
}

// Handler serves the addresses of one region ("" for the addresses of the "listen" list).
func (srv *Server) Handler(region string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("opc-request-id", randomID(12))
		path := r.URL.EscapedPath()
		if strings.HasPrefix(path, "/lab/") {
			srv.serveLab(w, r)
			return
		}
		if srv.store.unreachable(region) {
			drop(w)
			return
		}
		switch {
		case strings.HasPrefix(path, "/p/"):
			srv.servePAR(w, r, region)
		case path == "/n" || strings.HasPrefix(path, "/n/"):
			if !srv.authorized(w, r) {
				return
			}
			srv.serveAdmin(w, r, region)
		default:
			writeError(w, newError(http.StatusNotFound, "NotFound", "There is no operation at %s; PAR requests start with /p/, the admin API with /n/", path))
		}
	})
}

// drop closes the connection without an answer: the region is down, as far as clients can tell.
func drop(w http.ResponseWriter) {
	if hijacker, ok := w.(http.Hijacker); ok {
		if conn, _, err := hijacker.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	w.WriteHeader(http.StatusServiceUnavailable)
}

func (srv *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if len(srv.token) == 0 {
		writeError(w, newError(http.StatusUnauthorized, "NotAuthenticated", "The admin API is off: the emulator's config has no adminTokenFile"))
		return false
	}
	given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(given), srv.token) != 1 {
		writeError(w, newError(http.StatusUnauthorized, "NotAuthenticated", "The required information to complete authentication was not provided or was incorrect; send Authorization: Bearer <the token in adminTokenFile>"))
		return false
	}
	return true
}

// serveLab: GET or POST /lab/faults, to pause replication or take regions off the network.
func (srv *Server) serveLab(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/lab/faults" {
		writeError(w, newError(http.StatusNotFound, "NotFound", "There is no operation at %s; the lab's own endpoint is /lab/faults", r.URL.Path))
		return
	}
	if !srv.authorized(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, srv.store.Faults())
	case http.MethodPost, http.MethodPut:
		var faults Faults
		if err := decodeBody(r, &faults); err != nil {
			writeError(w, err)
			return
		}
		if err := srv.store.SetFaults(faults); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, srv.store.Faults())
	default:
		methodNotAllowed(w, r)
	}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError(http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not supported at %s", r.Method, r.URL.Path))
}

// decodeBody reads a JSON request body of at most 1 MiB. Unknown fields are ignored, as OCI's
// APIs accept fields the emulator does not model (tags, metadata).
func decodeBody(r *http.Request, v any) error {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return newError(http.StatusBadRequest, "CannotParseRequest", "The request body is not the JSON this operation takes: %v", err)
	}
	return nil
}

// --- the data path shared by PARs and the admin API ---

// OCI's time format: RFC 3339, UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func putObject(w http.ResponseWriter, r *http.Request, store *Store, region, bucketName, name string) {
	// OCI needs the length up front (PutObject's Content-Length is mandatory): no chunked bodies.
	if r.ContentLength < 0 || r.Header.Get("Content-Length") == "" {
		writeError(w, newError(http.StatusLengthRequired, "LengthRequired", "PutObject needs a Content-Length header; send the body with its length (curl -T file, or --data-binary @file)"))
		return
	}
	opts := writeOptions{ifNoneMatch: r.Header.Get("if-none-match"), ifMatch: r.Header.Get("if-match"), contentMD5: r.Header.Get("Content-MD5")}
	o, err := store.PutObject(region, bucketName, name, r.Body, r.ContentLength, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("opc-content-md5", o.MD5)
	w.Header().Set("ETag", o.ETag)
	w.Header().Set("Last-Modified", o.TimeModified.UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusOK)
}

func getObject(w http.ResponseWriter, r *http.Request, store *Store, region, bucketName, name string) {
	f, o, err := store.OpenObject(region, bucketName, name)
	if err != nil {
		writeError(w, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Length", strconv.FormatInt(o.Size, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", o.ETag)
	w.Header().Set("opc-content-md5", o.MD5)
	w.Header().Set("Content-MD5", o.MD5)
	w.Header().Set("Last-Modified", o.TimeModified.UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		// The file is this version's own and never changes, so the body is exactly Content-Length bytes.
		_, _ = io.CopyN(w, f, o.Size)
	}
}

// listedObject has only the fields asked for ("fields"), as OCI's ObjectSummary.
type listedObject struct {
	Name         string  `json:"name"`
	Size         *int64  `json:"size,omitempty"`
	MD5          *string `json:"md5,omitempty"`
	ETag         *string `json:"etag,omitempty"`
	TimeCreated  *string `json:"timeCreated,omitempty"`
	TimeModified *string `json:"timeModified,omitempty"`
	StorageTier  *string `json:"storageTier,omitempty"`
}

type listing struct {
	Objects       []listedObject `json:"objects"`
	Prefixes      []string       `json:"prefixes,omitempty"`
	NextStartWith string         `json:"nextStartWith,omitempty"`
}

var listFields = map[string]string{
	"name": "name", "size": "size", "md5": "md5", "etag": "etag",
	"timecreated": "timeCreated", "timemodified": "timeModified", "storagetier": "storageTier",
}

// parseList reads ListObjects' query: prefix, start, startAfter, end, limit, fields. scope is the
// prefix a PAR is limited to ("" for none).
func parseList(r *http.Request, scope string) (listQuery, map[string]bool, error) {
	query := r.URL.Query()
	q := listQuery{prefix: query.Get("prefix"), start: query.Get("start"), startAfter: query.Get("startAfter"), end: query.Get("end"), limit: 1000}
	if !strings.HasPrefix(q.prefix, scope) {
		if !strings.HasPrefix(scope, q.prefix) {
			return q, nil, parNotFound
		}
		q.prefix = scope
	}
	if text := query.Get("limit"); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 || n > 1000 {
			return q, nil, invalid("limit %q must be a number from 1 to 1000", text)
		}
		q.limit = n
	}
	if query.Get("delimiter") != "" {
		return q, nil, invalid("delimiter is not modelled by the lab's emulator; list with prefix instead")
	}
	fields := map[string]bool{"name": true}
	if text := query.Get("fields"); text != "" {
		for _, field := range strings.Split(text, ",") {
			canonical, ok := listFields[strings.ToLower(strings.TrimSpace(field))]
			if !ok {
				return q, nil, invalid("fields %q: %q is not one of name, size, etag, md5, timeCreated, timeModified, storageTier", text, field)
			}
			fields[canonical] = true
		}
	}
	return q, fields, nil
}

func listObjects(w http.ResponseWriter, r *http.Request, store *Store, region, bucketName, scope string) {
	q, fields, err := parseList(r, scope)
	if err != nil {
		writeError(w, err)
		return
	}
	objects, next, err := store.ListObjects(region, bucketName, q)
	if err != nil {
		writeError(w, err)
		return
	}
	out := listing{Objects: make([]listedObject, 0, len(objects)), NextStartWith: next}
	for _, o := range objects {
		item := listedObject{Name: o.Name}
		if fields["size"] {
			item.Size = &o.Size
		}
		if fields["md5"] {
			item.MD5 = &o.MD5
		}
		if fields["etag"] {
			item.ETag = &o.ETag
		}
		if fields["timeCreated"] {
			t := formatTime(o.TimeCreated)
			item.TimeCreated = &t
		}
		if fields["timeModified"] {
			t := formatTime(o.TimeModified)
			item.TimeModified = &t
		}
		if fields["storageTier"] {
			tier := "Standard"
			item.StorageTier = &tier
		}
		out.Objects = append(out.Objects, item)
	}
	writeJSON(w, http.StatusOK, out)
}

// localAddress is the address the request arrived at, for the absolute URL of a new PAR.
func localAddress(r *http.Request) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return addr.String()
	}
	return r.Host
}
