package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// OCI media types and the annotation that names an image inside a layout.
const (
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	annotationRefName = "org.opencontainers.image.ref.name"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// layout is an OCI image layout directory: oci-layout, index.json and blobs/sha256/.
type layout struct{ dir string }

func openLayout(dir string, create bool) (*layout, error) {
	l := &layout{dir: dir}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err == nil {
		return l, nil
	} else if !create {
		return nil, fmt.Errorf("%s is not an OCI image layout: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`+"\n"), 0o644); err != nil {
		return nil, err
	}
	return l, l.writeIndex(&index{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: []descriptor{}})
}

func (l *layout) blobPath(digest string) string {
	return filepath.Join(l.dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// putBlob stores bytes as a blob and returns their descriptor.
func (l *layout) putBlob(mediaType string, data []byte) (descriptor, error) {
	sum := sha256.Sum256(data)
	d := descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(data))}
	return d, writeFileAtomic(l.blobPath(d.Digest), data)
}

// adoptBlob moves a finished temporary file into the blob store under its digest.
func (l *layout) adoptBlob(tmp, digest string) error {
	return os.Rename(tmp, l.blobPath(digest))
}

func (l *layout) readBlob(d descriptor) ([]byte, error) {
	data, err := os.ReadFile(l.blobPath(d.Digest))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.Digest || int64(len(data)) != d.Size {
		return nil, fmt.Errorf("blob %s is corrupt (digest %s, %d bytes)", d.Digest, got, len(data))
	}
	return data, nil
}

func (l *layout) readIndex() (*index, error) {
	data, err := os.ReadFile(filepath.Join(l.dir, "index.json"))
	if err != nil {
		return nil, err
	}
	var idx index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	return &idx, nil
}

func (l *layout) writeIndex(idx *index) error {
	sort.Slice(idx.Manifests, func(i, j int) bool {
		return idx.Manifests[i].Annotations[annotationRefName] < idx.Manifests[j].Annotations[annotationRefName]
	})
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(l.dir, "index.json"), append(data, '\n'))
}

// setRef points ref at a manifest, replacing what the name pointed at before.
func (l *layout) setRef(ref string, d descriptor) error {
	idx, err := l.readIndex()
	if err != nil {
		return err
	}
	kept := idx.Manifests[:0]
	for _, m := range idx.Manifests {
		if m.Annotations[annotationRefName] != ref {
			kept = append(kept, m)
		}
	}
	d.Annotations = map[string]string{annotationRefName: ref}
	d.Platform = &platform{Architecture: "amd64", OS: "linux"}
	idx.Manifests = append(kept, d)
	return l.writeIndex(idx)
}

// splitRef splits "path/name:tag" into repository and tag.
func splitRef(ref string) (string, string, error) {
	i := strings.LastIndex(ref, ":")
	if i <= 0 || i == len(ref)-1 || strings.Contains(ref[i:], "/") {
		return "", "", fmt.Errorf("image reference %q is not of the form repository:tag", ref)
	}
	return ref[:i], ref[i+1:], nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// hashingWriter counts and hashes what passes through it.
type hashingWriter struct {
	w    io.Writer
	sum  hashState
	size int64
}

type hashState interface {
	io.Writer
	Sum([]byte) []byte
}

func newHashingWriter(w io.Writer) *hashingWriter {
	return &hashingWriter{w: w, sum: sha256.New()}
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.sum.Write(p[:n])
	h.size += int64(n)
	return n, err
}

func (h *hashingWriter) digest() string {
	return "sha256:" + hex.EncodeToString(h.sum.Sum(nil))
}
