package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type owner struct{ uid, gid int }

type imageSpec struct {
	root, ref  string
	mtime      time.Time
	owners     map[string]owner
	xattrs     map[string]map[string]string
	config     containerConfig
	layoutPath string
}

type containerConfig struct {
	User       string   `json:"User,omitempty"`
	Env        []string `json:"Env,omitempty"`
	Entrypoint []string `json:"Entrypoint,omitempty"`
	Cmd        []string `json:"Cmd,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
}

type imageConfig struct {
	Created      string          `json:"created"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Config       containerConfig `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		Created   string `json:"created"`
		CreatedBy string `json:"created_by"`
	} `json:"history"`
}

func imageMain(args []string) error {
	fl := flag.NewFlagSet("image", flag.ContinueOnError)
	var spec imageSpec
	var env, owners, xattrs stringList
	var entrypoint, cmd string
	var mtime int64
	fl.StringVar(&spec.root, "root", "", "directory whose tree becomes the image's one layer")
	fl.StringVar(&spec.layoutPath, "layout", "", "OCI image layout to add the image to (created if missing)")
	fl.StringVar(&spec.ref, "ref", "", "name of the image inside the layout and the registry: repository:tag")
	fl.Int64Var(&mtime, "mtime", 0, "modification time of every entry and the config's created time (seconds since 1970)")
	fl.Var(&env, "env", "KEY=VALUE of the image's environment (repeatable)")
	fl.StringVar(&entrypoint, "entrypoint", "", "entrypoint as a JSON array")
	fl.StringVar(&cmd, "cmd", "", "command as a JSON array")
	fl.StringVar(&spec.config.User, "user", "", "user[:group] the container runs as")
	fl.StringVar(&spec.config.WorkingDir, "workdir", "", "working directory")
	fl.Var(&owners, "owner", "PATH=UID:GID owner of one entry; every other entry is owned by 0:0 (repeatable)")
	fl.Var(&xattrs, "xattr", "PATH=NAME=HEX extended attribute of one entry, e.g. security.capability (repeatable)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if spec.root == "" || spec.layoutPath == "" || spec.ref == "" {
		return errors.New("-root, -layout and -ref are required")
	}
	if _, _, err := splitRef(spec.ref); err != nil {
		return err
	}
	spec.mtime = time.Unix(mtime, 0).UTC()
	spec.config.Env = env
	for _, pair := range []struct {
		text string
		dst  *[]string
	}{{entrypoint, &spec.config.Entrypoint}, {cmd, &spec.config.Cmd}} {
		if pair.text != "" {
			if err := json.Unmarshal([]byte(pair.text), pair.dst); err != nil {
				return fmt.Errorf("%q is not a JSON array of strings: %w", pair.text, err)
			}
		}
	}
	spec.owners = map[string]owner{}
	for _, o := range owners {
		path, ids, ok := strings.Cut(o, "=")
		uid, gid, ok2 := strings.Cut(ids, ":")
		u, err1 := strconv.Atoi(uid)
		g, err2 := strconv.Atoi(gid)
		if !ok || !ok2 || err1 != nil || err2 != nil {
			return fmt.Errorf("-owner %q is not PATH=UID:GID", o)
		}
		spec.owners[cleanPath(path)] = owner{u, g}
	}
	spec.xattrs = map[string]map[string]string{}
	for _, x := range xattrs {
		parts := strings.SplitN(x, "=", 3)
		if len(parts) != 3 {
			return fmt.Errorf("-xattr %q is not PATH=NAME=HEX", x)
		}
		value, err := hex.DecodeString(parts[2])
		if err != nil {
			return fmt.Errorf("-xattr %q: %w", x, err)
		}
		path := cleanPath(parts[0])
		if spec.xattrs[path] == nil {
			spec.xattrs[path] = map[string]string{}
		}
		spec.xattrs[path][parts[1]] = string(value)
	}
	return buildImage(&spec)
}

// cleanPath turns "/usr/bin/x" or "usr/bin/x" into the layer's entry name "usr/bin/x".
func cleanPath(p string) string {
	return strings.TrimPrefix(filepath.Clean("/"+p), "/")
}

func buildImage(spec *imageSpec) error {
	l, err := openLayout(spec.layoutPath, true)
	if err != nil {
		return err
	}
	layer, diffID, err := writeLayer(l, spec)
	if err != nil {
		return err
	}
	var cfg imageConfig
	created := spec.mtime.Format(time.RFC3339)
	cfg.Created, cfg.Architecture, cfg.OS, cfg.Config = created, "amd64", "linux", spec.config
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{diffID}
	cfg.History = append(cfg.History, struct {
		Created   string `json:"created"`
		CreatedBy string `json:"created_by"`
	}{created, "etcd-dr supplytool image " + spec.ref})
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cfgDesc, err := l.putBlob(mediaTypeConfig, cfgJSON)
	if err != nil {
		return err
	}
	m := manifest{SchemaVersion: 2, MediaType: mediaTypeManifest, Config: cfgDesc, Layers: []descriptor{layer}}
	mJSON, err := json.Marshal(m)
	if err != nil {
		return err
	}
	mDesc, err := l.putBlob(mediaTypeManifest, mJSON)
	if err != nil {
		return err
	}
	if err := l.setRef(spec.ref, mDesc); err != nil {
		return err
	}
	fmt.Printf("%s %s layer %d bytes\n", spec.ref, mDesc.Digest, layer.Size)
	return nil
}

// writeLayer writes the root tree as a gzipped tar blob: entries in lexical order, every mtime the
// same, owned by root unless -owner says otherwise. Returns the layer's descriptor and its diff ID.
func writeLayer(l *layout, spec *imageSpec) (descriptor, string, error) {
	tmp, err := os.CreateTemp(filepath.Join(l.dir, "blobs", "sha256"), ".layer-*")
	if err != nil {
		return descriptor{}, "", err
	}
	defer os.Remove(tmp.Name())
	compressed := newHashingWriter(tmp)
	gz, err := gzip.NewWriterLevel(compressed, gzip.DefaultCompression)
	if err != nil {
		return descriptor{}, "", err
	}
	uncompressed := newHashingWriter(gz)
	tw := tar.NewWriter(uncompressed)
	seen := map[string]bool{}
	walkErr := filepath.WalkDir(spec.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(spec.root, path)
		if err != nil || rel == "." {
			return err
		}
		seen[filepath.ToSlash(rel)] = true
		return addEntry(tw, spec, path, filepath.ToSlash(rel))
	})
	if walkErr != nil {
		return descriptor{}, "", walkErr
	}
	for _, m := range []map[string]owner{spec.owners} {
		for p := range m {
			if !seen[p] {
				return descriptor{}, "", fmt.Errorf("-owner names %s, which is not in %s", p, spec.root)
			}
		}
	}
	for p := range spec.xattrs {
		if !seen[p] {
			return descriptor{}, "", fmt.Errorf("-xattr names %s, which is not in %s", p, spec.root)
		}
	}
	if err := errors.Join(tw.Close(), gz.Close()); err != nil {
		return descriptor{}, "", err
	}
	if err := tmp.Close(); err != nil {
		return descriptor{}, "", err
	}
	d := descriptor{MediaType: mediaTypeLayer, Digest: compressed.digest(), Size: compressed.size}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return descriptor{}, "", err
	}
	return d, uncompressed.digest(), l.adoptBlob(tmp.Name(), d.Digest)
}

func addEntry(tw *tar.Writer, spec *imageSpec, path, name string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	mode := int64(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	hdr := &tar.Header{Name: name, Mode: mode, ModTime: spec.mtime, Format: tar.FormatPAX}
	if o, ok := spec.owners[name]; ok {
		hdr.Uid, hdr.Gid = o.uid, o.gid
	}
	if x := spec.xattrs[name]; len(x) > 0 {
		hdr.PAXRecords = map[string]string{}
		for k, v := range x {
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
	}
	switch {
	case fi.Mode().IsDir():
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case fi.Mode().IsRegular():
		hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
	default:
		return fmt.Errorf("%s: only files, directories and symlinks can go into an image", path)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(tw, f)
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("%s changed size while it was read", path)
	}
	return err
}
