package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Handler serves /p/<par>/n/<namespace>/b/<bucket>/o/<object>, the OCI PAR URL layout.
type Handler struct {
	store *Store
	now   func() time.Time
}

func NewHandler(store *Store, now func() time.Time) *Handler {
	return &Handler{store: store, now: now}
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiError{Code: code, Message: message})
}

// notFound is what OCI answers for a PAR that does not exist, has expired, or does not allow
// the operation: it never tells which.
func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "NotAuthorizedOrNotFound", "The required information to complete authorization was not provided or the resource was not found.")
}

type request struct {
	par    PARSpec
	bucket string
	object string
}

func (h *Handler) parse(r *http.Request) (request, bool) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/", 8)
	if len(parts) < 7 || parts[0] != "p" || parts[2] != "n" || parts[4] != "b" || parts[6] != "o" {
		return request{}, false
	}
	par, ok := h.store.PAR(parts[1])
	if !ok || par.Bucket != parts[5] {
		return request{}, false
	}
	if par.Expires != "" {
		expires, err := time.Parse(time.RFC3339, par.Expires)
		if err != nil || !h.now().Before(expires) {
			return request{}, false
		}
	}
	object := ""
	if len(parts) == 8 {
		decoded, err := url.PathUnescape(parts[7])
		if err != nil {
			return request{}, false
		}
		object = decoded
	}
	return request{par: par, bucket: parts[5], object: object}, true
}

func canRead(p PARSpec) bool {
	return p.AccessType == "AnyObjectRead" || p.AccessType == "AnyObjectReadWrite"
}
func canWrite(p PARSpec) bool {
	return p.AccessType == "AnyObjectWrite" || p.AccessType == "AnyObjectReadWrite"
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, ok := h.parse(r)
	if !ok {
		notFound(w)
		return
	}
	if req.object == "" {
		if r.Method != http.MethodGet || !req.par.Listing || !canRead(req.par) {
			notFound(w)
			return
		}
		h.list(w, r, req)
		return
	}
	if !strings.HasPrefix(req.object, req.par.Prefix) {
		notFound(w)
		return
	}
	switch r.Method {
	case http.MethodPut:
		if !canWrite(req.par) {
			notFound(w)
			return
		}
		h.put(w, r, req)
	case http.MethodGet, http.MethodHead:
		if !canRead(req.par) {
			notFound(w)
			return
		}
		h.get(w, r, req)
	default:
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not supported through a pre-authenticated request")
	}
}

func (h *Handler) put(w http.ResponseWriter, r *http.Request, req request) {
	info, err := h.store.Put(req.bucket, req.object, r.Body)
	switch {
	case errors.Is(err, errReadOnly):
		writeError(w, http.StatusConflict, "BucketReadOnly", err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	w.Header().Set("opc-content-md5", info.MD5)
	w.Header().Set("ETag", info.MD5)
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, req request) {
	f, info, err := h.store.Open(req.bucket, req.object)
	if err != nil {
		if errors.Is(err, errNotFound) {
			writeError(w, http.StatusNotFound, "ObjectNotFound", "The object '"+req.object+"' does not exist in bucket '"+req.bucket+"'")
			return
		}
		writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	defer f.Close()
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("opc-content-md5", info.MD5)
	w.Header().Set("Last-Modified", info.TimeCreated)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = io.Copy(w, f)
	}
}

type listing struct {
	Objects       []ObjectInfo `json:"objects"`
	NextStartWith string       `json:"nextStartWith,omitempty"`
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, req request) {
	query := r.URL.Query()
	prefix := query.Get("prefix")
	// A PAR scoped to a prefix lists only under it.
	if !strings.HasPrefix(prefix, req.par.Prefix) {
		if strings.HasPrefix(req.par.Prefix, prefix) {
			prefix = req.par.Prefix
		} else {
			notFound(w)
			return
		}
	}
	limit := 1000
	if text := query.Get("limit"); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "InvalidParameter", "limit must be between 1 and 1000")
			return
		}
		limit = n
	}
	objects, next, err := h.store.List(req.bucket, prefix, query.Get("start"), limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(listing{Objects: objects, NextStartWith: next})
}
