package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
)

// apiError is an error as OCI returns it: a status, and {"code", "message"} in the body.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func bucketNotFound(namespace, name string) *apiError {
	return newError(http.StatusNotFound, "BucketNotFound", "Either the bucket named '%s' does not exist in the namespace '%s' or you are not authorized to access it", name, namespace)
}

func objectNotFound(bucket, name string) *apiError {
	return newError(http.StatusNotFound, "ObjectNotFound", "The object '%s' was not found in the bucket '%s'", name, bucket)
}

func invalid(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "InvalidParameter", format, args...)
}

func missing(parameter, what string) *apiError {
	return newError(http.StatusBadRequest, "MissingParameter", "%s is missing; give %s", parameter, what)
}

func conflict(format string, args ...any) *apiError {
	return newError(http.StatusConflict, "Conflict", format, args...)
}

// parNotFound is what OCI answers for a PAR that does not exist, has expired, or does not allow
// the operation: it never says which.
var parNotFound = &apiError{Status: http.StatusNotFound, Code: "NotAuthorizedOrNotFound", Message: "The required information to complete authorization was not provided or the resource was not found."}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with err as OCI would; an error that is no apiError is the emulator's own
// fault (disk, bug): 500, and a line in its log.
func writeError(w http.ResponseWriter, err error) {
	var api *apiError
	if !errors.As(err, &api) {
		log.Printf("internal error: %v", err)
		api = newError(http.StatusInternalServerError, "InternalServerError", "%v", err)
	}
	writeJSON(w, api.Status, api)
}
