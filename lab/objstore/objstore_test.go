package main

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lab is an emulator in the test's process: regions r1 and r2, each with its own HTTP server, one
// region-less server (the old "listen" form), a clock the test can move, and the admin token.
type lab struct {
	t       *testing.T
	cfg     *Config
	store   *Store
	token   string
	offset  atomic.Int64 // added to the clock, in nanoseconds
	servers map[string]*httptest.Server
}

const testToken = "test-admin-token"

// The emulator logs every admin change; only -v shows it.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		log.SetOutput(io.Discard)
	}
	os.Exit(m.Run())
}

func floatp(v float64) *float64 { return &v }

func newLab(t *testing.T, mutate func(*Config)) *lab {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{
		Namespace: "lab",
		DataDir:   filepath.Join(dir, "data"),
		Regions:   []RegionSpec{{Name: "r1", Listen: addresses{"127.0.0.1:0"}}, {Name: "r2", Listen: addresses{"127.0.0.1:0"}}},
		// Fast and in order unless a test asks otherwise.
		ReplicationLag:   &LagSpec{BaseSeconds: floatp(0.02)},
		AdminTokenFile:   tokenFile,
		DayLengthSeconds: 86400,
	}
	if mutate != nil {
		mutate(cfg)
	}
	l := &lab{t: t, cfg: cfg}
	l.start()
	t.Cleanup(l.stop)
	return l
}

func (l *lab) now() time.Time { return time.Now().Add(time.Duration(l.offset.Load())) }

// advance moves the emulator's clock, e.g. past a PAR's expiry or a lifecycle rule's age.
func (l *lab) advance(d time.Duration) { l.offset.Add(int64(d)) }

func (l *lab) start() {
	l.t.Helper()
	token, err := readToken(l.cfg.AdminTokenFile)
	if err != nil {
		l.t.Fatal(err)
	}
	l.token = string(token)
	store, err := NewStore(l.cfg, l.now)
	if err != nil {
		l.t.Fatal(err)
	}
	l.store = store
	srv := NewServer(store, token)
	l.servers = map[string]*httptest.Server{"": httptest.NewServer(srv.Handler(""))}
	for _, r := range l.cfg.Regions {
		l.servers[r.Name] = httptest.NewServer(srv.Handler(r.Name))
	}
}

func (l *lab) stop() {
	for _, s := range l.servers {
		s.Close()
	}
	l.servers = nil
	if l.store != nil {
		l.store.Close()
		l.store = nil
	}
}

// restart is a new emulator process on the same config and data dir.
func (l *lab) restart() {
	l.stop()
	l.start()
}

func (l *lab) url(region, path string) string { return l.servers[region].URL + path }

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", r.status, err, r.body)
	}
}

// code is the "code" of an OCI error answer.
func (r reply) code() string {
	var e apiError
	_ = json.Unmarshal(r.body, &e)
	return e.Code
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func send(t *testing.T, method, target string, body io.Reader, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, raw}
}

// admin calls the admin API of a region; a body that is not a string or nil goes as JSON.
func (l *lab) admin(region, method, path string, body any) reply {
	l.t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			l.t.Fatal(err)
		}
		reader = bytes.NewReader(raw)
	}
	return send(l.t, method, l.url(region, path), reader, map[string]string{"Authorization": "Bearer " + l.token})
}

func (l *lab) mustAdmin(region, method, path string, body any, want int) reply {
	l.t.Helper()
	r := l.admin(region, method, path, body)
	if r.status != want {
		l.t.Fatalf("%s %s in %s: want %d, got %s", method, path, region, want, r)
	}
	return r
}

func (l *lab) bucket(region, name string) {
	l.t.Helper()
	l.mustAdmin(region, "POST", "/n/lab/b/", map[string]string{"name": name, "compartmentId": "ocid1.compartment.lab"}, 200)
}

type parReply struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	AccessType          string `json:"accessType"`
	ObjectName          string `json:"objectName"`
	BucketListingAction string `json:"bucketListingAction"`
	TimeExpires         string `json:"timeExpires"`
	AccessURI           string `json:"accessUri"`
	FullPath            string `json:"fullPath"`
}

func (l *lab) par(region, bucketName string, body map[string]string) parReply {
	l.t.Helper()
	if body["timeExpires"] == "" {
		body["timeExpires"] = l.now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	}
	if body["name"] == "" {
		body["name"] = "test-par"
	}
	var p parReply
	l.mustAdmin(region, "POST", "/n/lab/b/"+bucketName+"/p/", body, 200).json(l.t, &p)
	return p
}

// putObject writes through the admin API.
func (l *lab) putObject(region, bucketName, name, content string) reply {
	l.t.Helper()
	return l.mustAdmin(region, "PUT", "/n/lab/b/"+bucketName+"/o/"+name, content, 200)
}

func (l *lab) objectStatus(region, bucketName, name string) int {
	l.t.Helper()
	return l.admin(region, "HEAD", "/n/lab/b/"+bucketName+"/o/"+name, nil).status
}

type listReply struct {
	Objects []map[string]any `json:"objects"`
	Next    string           `json:"nextStartWith"`
}

func (l *lab) names(region, bucketName, query string) []string {
	l.t.Helper()
	var page listReply
	l.mustAdmin(region, "GET", "/n/lab/b/"+bucketName+"/o/?"+query, nil, 200).json(l.t, &page)
	out := []string{}
	for _, o := range page.Objects {
		out = append(out, o["name"].(string))
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func md5b64(data []byte) string {
	sum := md5.Sum(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// --- the data path ---

func TestNamespaceIsChecked(t *testing.T) {
	l := newLab(t, nil)
	var ns string
	l.mustAdmin("r1", "GET", "/n/", nil, 200).json(t, &ns)
	if ns != "lab" {
		t.Fatalf("namespace %q", ns)
	}
	l.bucket("r1", "b")
	l.putObject("r1", "b", "x", "data")
	if r := l.admin("r1", "GET", "/n/other/b/b", nil); r.status != 404 || r.code() != "NamespaceNotFound" {
		t.Fatalf("admin request in another namespace: %s", r)
	}
	p := l.par("r1", "b", map[string]string{"accessType": "AnyObjectRead", "bucketListingAction": "ListObjects"})
	for _, c := range []struct {
		namespace string
		want      int
	}{{"lab", 200}, {"WRONGNS", 404}, {"", 404}} {
		path := strings.Replace(p.AccessURI, "/n/lab/", "/n/"+c.namespace+"/", 1)
		for _, suffix := range []string{"", "x"} {
			if r := send(t, "GET", l.url("r1", path+suffix), nil, nil); r.status != c.want {
				t.Errorf("PAR GET with namespace %q, object %q: want %d, got %s", c.namespace, suffix, c.want, r)
			}
		}
	}
}

func TestListObjectsFields(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	put := l.putObject("r1", "b", "etcd/a", "aaaa")
	keys := func(query string) string {
		var page struct {
			Objects []map[string]json.RawMessage `json:"objects"`
		}
		l.mustAdmin("r1", "GET", "/n/lab/b/b/o/?"+query, nil, 200).json(t, &page)
		var names []string
		for k := range page.Objects[0] {
			names = append(names, k)
		}
		return strings.Join(sortStrings(names), ",")
	}
	for _, c := range []struct{ query, want string }{
		{"", "name"},
		{"fields=name", "name"},
		{"fields=name,size", "name,size"},
		{"fields=size", "name,size"},
		{"fields=NAME,SIZE,md5", "md5,name,size"},
		{"fields=md5,etag,timeCreated,timeModified", "etag,md5,name,timeCreated,timeModified"},
		{"fields=storageTier", "name,storageTier"},
	} {
		if got := keys(c.query); got != c.want {
			t.Errorf("?%s lists fields %s, want %s", c.query, got, c.want)
		}
	}
	var page struct {
		Objects []struct {
			Size        int64  `json:"size"`
			MD5         string `json:"md5"`
			ETag        string `json:"etag"`
			TimeCreated string `json:"timeCreated"`
		} `json:"objects"`
	}
	l.mustAdmin("r1", "GET", "/n/lab/b/b/o/?fields=name,size,md5,etag,timeCreated", nil, 200).json(t, &page)
	o := page.Objects[0]
	if o.Size != 4 || o.MD5 != md5b64([]byte("aaaa")) || o.ETag != put.header.Get("ETag") {
		t.Errorf("listed %+v, put answered ETag %s", o, put.header.Get("ETag"))
	}
	if _, err := time.Parse(time.RFC3339, o.TimeCreated); err != nil {
		t.Errorf("timeCreated %q: %v", o.TimeCreated, err)
	}
	for _, query := range []string{"fields=name,owner", "limit=0", "limit=1001", "limit=x", "delimiter=/"} {
		if r := l.admin("r1", "GET", "/n/lab/b/b/o/?"+query, nil); r.status != 400 || r.code() != "InvalidParameter" {
			t.Errorf("?%s: want 400 InvalidParameter, got %s", query, r)
		}
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestListObjectsPrefixStartEndLimitAndPages(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	for _, name := range []string{"etcd/c", "etcd/a", "etcd/e", "etcd/b", "etcd/d", "other/x"} {
		l.putObject("r1", "b", name, name)
	}
	cases := []struct{ query, want string }{
		{"", "etcd/a etcd/b etcd/c etcd/d etcd/e other/x"},
		{"prefix=etcd/", "etcd/a etcd/b etcd/c etcd/d etcd/e"},
		{"prefix=etcd/&start=etcd/c", "etcd/c etcd/d etcd/e"},
		{"prefix=etcd/&startAfter=etcd/c", "etcd/d etcd/e"},
		{"prefix=etcd/&end=etcd/c", "etcd/a etcd/b"},
		{"prefix=etcd/&limit=2", "etcd/a etcd/b"},
	}
	for _, c := range cases {
		if got := strings.Join(l.names("r1", "b", c.query), " "); got != c.want {
			t.Errorf("?%s lists %q, want %q", c.query, got, c.want)
		}
	}
	var all []string
	start := ""
	for pages := 1; ; pages++ {
		var page listReply
		l.mustAdmin("r1", "GET", "/n/lab/b/b/o/?prefix=etcd/&limit=2&start="+url.QueryEscape(start), nil, 200).json(t, &page)
		for _, o := range page.Objects {
			all = append(all, o["name"].(string))
		}
		if page.Next == "" {
			if pages != 3 {
				t.Fatalf("5 objects in pages of 2 took %d pages", pages)
			}
			break
		}
		start = page.Next
	}
	if strings.Join(all, " ") != "etcd/a etcd/b etcd/c etcd/d etcd/e" {
		t.Fatalf("paged listing %v", all)
	}
}

// rawRequest sends bytes as they are, to control Content-Length and Transfer-Encoding.
func rawRequest(t *testing.T, base, request string) int {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestPutNeedsContentLength(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	p := l.par("r1", "b", map[string]string{"accessType": "AnyObjectWrite"})
	auth := "Authorization: Bearer " + testToken + "\r\n"
	cases := []struct {
		name, request string
		want          int
	}{
		{"PAR, no length", "PUT " + p.AccessURI + "x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 411},
		{"PAR, chunked", "PUT " + p.AccessURI + "x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\ndata\r\n0\r\n\r\n", 411},
		{"admin, chunked", "PUT /n/lab/b/b/o/x HTTP/1.1\r\nHost: h\r\n" + auth + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\ndata\r\n0\r\n\r\n", 411},
		{"PAR, length", "PUT " + p.AccessURI + "x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndata", 200},
		{"PAR, empty object", "PUT " + p.AccessURI + "empty HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 200},
	}
	for _, c := range cases {
		if got := rawRequest(t, l.servers["r1"].URL, c.request); got != c.want {
			t.Errorf("%s: want %d, got %d", c.name, c.want, got)
		}
	}
}

func TestConditionalPuts(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	p := l.par("r1", "b", map[string]string{"accessType": "AnyObjectReadWrite"})
	first := send(t, "PUT", p.FullPath+"x", strings.NewReader("one"), map[string]string{"if-none-match": "*"})
	if first.status != 200 {
		t.Fatalf("create-only PUT of a new object: %s", first)
	}
	cases := []struct {
		name   string
		header map[string]string
		status int
		code   string
	}{
		{"if-none-match * on an existing object", map[string]string{"if-none-match": "*"}, 412, "IfNoneMatchFailed"},
		{"if-none-match with an etag", map[string]string{"if-none-match": first.header.Get("ETag")}, 400, "InvalidParameter"},
		{"if-match with a stale etag", map[string]string{"if-match": "0000"}, 412, "IfMatchFailed"},
		{"Content-MD5 that is not the body's", map[string]string{"Content-MD5": md5b64([]byte("other"))}, 400, "UnmatchedContentMD5"},
	}
	for _, c := range cases {
		if r := send(t, "PUT", p.FullPath+"x", strings.NewReader("two"), c.header); r.status != c.status || r.code() != c.code {
			t.Errorf("%s: want %d %s, got %s", c.name, c.status, c.code, r)
		}
	}
	if r := send(t, "GET", p.FullPath+"x", nil, nil); string(r.body) != "one" {
		t.Fatalf("a refused PUT changed the object: %q", r.body)
	}
	for _, header := range []map[string]string{
		{"if-match": first.header.Get("ETag")},
		{"Content-MD5": md5b64([]byte("two"))},
	} {
		if r := send(t, "PUT", p.FullPath+"x", strings.NewReader("two"), header); r.status != 200 {
			t.Errorf("PUT with %v: %s", header, r)
		}
	}
}

func TestObjectHeaders(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	put := l.putObject("r1", "b", "x", "hello")
	for _, header := range []string{"Last-Modified"} {
		if _, err := http.ParseTime(put.header.Get(header)); err != nil {
			t.Errorf("PUT %s %q is not an HTTP date: %v", header, put.header.Get(header), err)
		}
	}
	get := l.mustAdmin("r1", "GET", "/n/lab/b/b/o/x", nil, 200)
	if _, err := http.ParseTime(get.header.Get("Last-Modified")); err != nil {
		t.Errorf("GET Last-Modified %q is not an HTTP date", get.header.Get("Last-Modified"))
	}
	if get.header.Get("ETag") != put.header.Get("ETag") || get.header.Get("opc-content-md5") != md5b64([]byte("hello")) || get.header.Get("Content-Length") != "5" {
		t.Errorf("GET headers %v after PUT headers %v", get.header, put.header)
	}
	head := l.mustAdmin("r1", "HEAD", "/n/lab/b/b/o/x", nil, 200)
	if len(head.body) != 0 || head.header.Get("Content-Length") != "5" {
		t.Errorf("HEAD: %v %q", head.header, head.body)
	}
}

// A GET answers with one version's bytes and that version's length, whatever overwrites it at
// the same time (the old emulator could send a new body under an old Content-Length).
func TestGetNeverMismatchesContentLength(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	l.putObject("r1", "b", "x", "seed")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			body := bytes.Repeat([]byte{byte('a' + i%26)}, 1+(i*7919)%200_000)
			req, _ := http.NewRequest("PUT", l.url("r1", "/n/lab/b/b/o/x"), bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testToken)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	for i := 0; i < 300; i++ {
		r := l.mustAdmin("r1", "GET", "/n/lab/b/b/o/x", nil, 200)
		if fmt.Sprint(len(r.body)) != r.header.Get("Content-Length") || md5b64(r.body) != r.header.Get("opc-content-md5") {
			close(stop)
			wg.Wait()
			t.Fatalf("GET %d: %d bytes under Content-Length %s, md5 %s under %s", i, len(r.body), r.header.Get("Content-Length"), md5b64(r.body), r.header.Get("opc-content-md5"))
		}
	}
	close(stop)
	wg.Wait()
}

func TestPARAccess(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	l.putObject("r1", "b", "etcd/c1/seed", "seed")
	l.putObject("r1", "b", "other/seed", "seed")
	write := l.par("r1", "b", map[string]string{"accessType": "AnyObjectWrite", "objectName": "etcd/c1/"})
	read := l.par("r1", "b", map[string]string{"accessType": "AnyObjectRead", "objectName": "etcd/c1/", "bucketListingAction": "ListObjects"})
	readNoList := l.par("r1", "b", map[string]string{"accessType": "AnyObjectRead"})
	rw := l.par("r1", "b", map[string]string{"accessType": "AnyObjectReadWrite", "bucketListingAction": "ListObjects"})
	one := l.par("r1", "b", map[string]string{"accessType": "ObjectRead", "objectName": "other/seed"})
	if !strings.HasSuffix(one.AccessURI, "/o/other/seed") || !strings.HasSuffix(write.AccessURI, "/b/b/o/") {
		t.Fatalf("access URIs %s, %s", one.AccessURI, write.AccessURI)
	}
	base := func(p parReply) string { return strings.TrimSuffix(p.FullPath, p.ObjectName) }
	cases := []struct {
		name, method, target string
		want                 int
	}{
		{"write PAR puts in its prefix", "PUT", write.FullPath + "etcd/c1/new", 200},
		{"write PAR puts outside its prefix", "PUT", write.FullPath + "other/new", 404},
		{"write PAR reads", "GET", write.FullPath + "etcd/c1/seed", 404},
		{"write PAR lists", "GET", write.FullPath, 404},
		{"write PAR deletes", "DELETE", write.FullPath + "etcd/c1/seed", 404},
		{"read PAR reads in its prefix", "GET", read.FullPath + "etcd/c1/seed", 200},
		{"read PAR heads in its prefix", "HEAD", read.FullPath + "etcd/c1/seed", 200},
		{"read PAR reads outside its prefix", "GET", read.FullPath + "other/seed", 404},
		{"read PAR lists", "GET", read.FullPath + "?prefix=etcd/c1/", 200},
		{"read PAR lists above its prefix (narrowed)", "GET", read.FullPath, 200},
		{"read PAR lists another prefix", "GET", read.FullPath + "?prefix=other/", 404},
		{"read PAR puts", "PUT", read.FullPath + "etcd/c1/x", 404},
		{"read PAR deletes", "DELETE", read.FullPath + "etcd/c1/seed", 404},
		{"read PAR without listing lists", "GET", readNoList.FullPath, 404},
		{"read-write PAR puts", "PUT", rw.FullPath + "any/x", 200},
		{"read-write PAR deletes", "DELETE", rw.FullPath + "any/x", 404},
		{"object PAR reads its object", "GET", one.FullPath, 200},
		{"object PAR reads another object", "GET", base(one) + "etcd/c1/seed", 404},
		{"object PAR lists", "GET", base(one), 404},
		{"PAR in another region's endpoint", "GET", l.url("r2", read.AccessURI+"etcd/c1/seed"), 404},
		{"PAR on a region-less address", "GET", l.url("", read.AccessURI+"etcd/c1/seed"), 200},
		{"PAR with another bucket in its path", "GET", strings.Replace(read.FullPath, "/b/b/", "/b/c/", 1) + "etcd/c1/seed", 404},
		{"unknown PAR", "GET", l.url("r1", "/p/nope/n/lab/b/b/o/etcd/c1/seed"), 404},
		{"PAR path without /o/", "GET", strings.TrimSuffix(read.FullPath, "/"), 404},
	}
	for _, c := range cases {
		r := send(t, c.method, c.target, strings.NewReader("x"), nil)
		if r.status != c.want {
			t.Errorf("%s: want %d, got %s", c.name, c.want, r)
		} else if c.want == 404 && c.method != "HEAD" && r.code() != "NotAuthorizedOrNotFound" {
			t.Errorf("%s: want code NotAuthorizedOrNotFound, got %s", c.name, r)
		}
	}
	if l.objectStatus("r1", "b", "etcd/c1/seed") != 200 {
		t.Fatal("a PAR DELETE removed the object")
	}
	var page listReply
	send(t, "GET", read.FullPath, nil, nil).json(t, &page)
	if len(page.Objects) != 2 {
		t.Fatalf("the read PAR lists %v; want the two objects under etcd/c1/", page.Objects)
	}
	// Expiry and deletion end a PAR.
	l.advance(25 * time.Hour)
	if r := send(t, "GET", read.FullPath+"etcd/c1/seed", nil, nil); r.status != 404 {
		t.Fatalf("an expired PAR answered %s", r)
	}
	l.advance(-25 * time.Hour)
	l.mustAdmin("r1", "DELETE", "/n/lab/b/b/p/"+read.ID, nil, 204)
	if r := send(t, "GET", read.FullPath+"etcd/c1/seed", nil, nil); r.status != 404 {
		t.Fatalf("a deleted PAR answered %s", r)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	l := newLab(t, nil)
	l.bucket("r1", "b")
	p := l.par("r1", "b", map[string]string{"accessType": "AnyObjectReadWrite"})
	cases := []struct {
		name   string
		r      reply
		status int
		code   string
	}{
		{"root", send(t, "GET", l.url("r1", "/"), nil, nil), 404, "NotFound"},
		{"POST through a PAR", send(t, "POST", p.FullPath+"x", nil, nil), 405, "MethodNotAllowed"},
		{"unknown admin path", l.admin("r1", "GET", "/n/lab/b/b/nothing", nil), 404, "NotFound"},
		{"PATCH a bucket", l.admin("r1", "PATCH", "/n/lab/b/b", nil), 405, "MethodNotAllowed"},
		{"unknown lab path", l.admin("r1", "GET", "/lab/nothing", nil), 404, "NotFound"},
	}
	for _, c := range cases {
		if c.r.status != c.status || c.r.code() != c.code {
			t.Errorf("%s: want %d %s, got %s", c.name, c.status, c.code, c.r)
		}
	}
}

// httpClientDo is a request whose failure to connect the test expects.
func httpClientDo(method, target string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}
