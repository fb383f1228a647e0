package history

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub records the requests of a Fetcher and answers as GitHub's
// REST API does (docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow,
// /rest/actions/artifacts#list-workflow-run-artifacts and
// #download-an-artifact: a 302 to storage, which wants no token).
type fakeGitHub struct {
	mu       sync.Mutex
	requests []string
	srv      *httptest.Server
	storage  *httptest.Server
	zips     map[string][]byte
}

func zipOf(t *testing.T, files map[string]string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{zips: map[string][]byte{
		"11": zipOf(t, map[string]string{"results.json": `{"run":"r103"}`}),
		"13": zipOf(t, map[string]string{"../../evil/results.json": `{"run":"r101"}`, "other.txt": "x"}),
	}}
	f.storage = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.record(r, "storage")
		w.Write(f.zips[strings.TrimPrefix(r.URL.Path, "/blob/")])
	}))
	t.Cleanup(f.storage.Close)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.record(r, "api")
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		api := "http://" + r.Host
		switch {
		case r.URL.Path == "/repos/o/r/actions/workflows/bench.yml/runs":
			// Newest first, as GitHub lists them; 102 is a fork's branch
			// called main, 104 ran without keeping the artifact.
			json.NewEncoder(w).Encode(map[string]any{"total_count": 5, "workflow_runs": []map[string]any{
				{"id": 104, "head_sha": "d104", "head_repository": map[string]any{"full_name": "o/r"}},
				{"id": 103, "head_sha": "d103", "head_repository": map[string]any{"full_name": "o/r"}},
				{"id": 102, "head_sha": "d102", "head_repository": map[string]any{"full_name": "fork/r"}},
				{"id": 101, "head_sha": "d101", "head_repository": map[string]any{"full_name": "o/r"}},
				{"id": 100, "head_sha": "d100", "head_repository": map[string]any{"full_name": "o/r"}},
			}})
		case strings.HasPrefix(r.URL.Path, "/repos/o/r/actions/runs/"):
			var id int
			fmt.Sscanf(r.URL.Path, "/repos/o/r/actions/runs/%d/artifacts", &id)
			arts := map[int][]map[string]any{
				103: {{"id": 11, "name": "bench-results", "expired": false, "archive_download_url": api + "/repos/o/r/actions/artifacts/11/zip"}},
				102: {{"id": 12, "name": "bench-results", "expired": false, "archive_download_url": api + "/repos/o/r/actions/artifacts/12/zip"}},
				101: {{"id": 13, "name": "bench-results", "expired": false, "archive_download_url": api + "/repos/o/r/actions/artifacts/13/zip"}},
				100: {{"id": 14, "name": "bench-results", "expired": true, "archive_download_url": api + "/repos/o/r/actions/artifacts/14/zip"}},
			}[id]
			json.NewEncoder(w).Encode(map[string]any{"total_count": len(arts), "artifacts": arts})
		case strings.HasPrefix(r.URL.Path, "/repos/o/r/actions/artifacts/"):
			id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/repos/o/r/actions/artifacts/"), "/zip")
			// Another host name, as GitHub's storage is.
			http.Redirect(w, r, strings.Replace(f.storage.URL, "127.0.0.1", "localhost", 1)+"/blob/"+id, http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) record(r *http.Request, who string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := who + " " + r.Method + " " + r.URL.RequestURI()
	if who == "api" {
		line += fmt.Sprintf(" accept=%s version=%s", r.Header.Get("Accept"), r.Header.Get("X-GitHub-Api-Version"))
	} else if r.Header.Get("Authorization") != "" {
		line += " WITH-TOKEN"
	}
	f.requests = append(f.requests, line)
}

// TestFetchContract: the fetcher asks for the bench workflow's completed
// push runs on main, skips a fork's run and one without the artifact or
// with an expired one, sends the token with the API's headers only to the
// API (not to the storage it is redirected to), and unpacks only
// results.json, by base name, under dir.
func TestFetchContract(t *testing.T) {
	gh := newFakeGitHub(t)
	dir := t.TempDir()
	files, err := Fetcher{API: gh.srv.URL, Repo: "o/r", Token: "tok", Client: gh.srv.Client()}.Fetch(context.Background(), dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "run-103", ResultsName), filepath.Join(dir, "run-101", ResultsName)}
	if !slices.Equal(files, want) {
		t.Errorf("files %q, want %q", files, want)
	}
	for i, body := range []string{`{"run":"r103"}`, `{"run":"r101"}`} {
		if b, err := os.ReadFile(want[i]); err != nil || string(b) != body {
			t.Errorf("%s: %q, %v", want[i], b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "evil")); err == nil {
		t.Error("a zip path escaped the directory")
	}
	h := " accept=application/vnd.github+json version=2022-11-28"
	wantReq := []string{
		"api GET /repos/o/r/actions/workflows/bench.yml/runs?branch=main&event=push&per_page=100&status=completed" + h,
		"api GET /repos/o/r/actions/runs/104/artifacts?name=bench-results" + h,
		"api GET /repos/o/r/actions/runs/103/artifacts?name=bench-results" + h,
		"api GET /repos/o/r/actions/artifacts/11/zip" + h,
		"storage GET /blob/11",
		"api GET /repos/o/r/actions/runs/101/artifacts?name=bench-results" + h,
		"api GET /repos/o/r/actions/artifacts/13/zip" + h,
		"storage GET /blob/13",
		"api GET /repos/o/r/actions/runs/100/artifacts?name=bench-results" + h,
	}
	if !slices.Equal(gh.requests, wantReq) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(gh.requests, "\n"), strings.Join(wantReq, "\n"))
	}
}

// TestFetchErrors: a refused token is one line naming the status, and a
// missing token is refused before any request.
func TestFetchErrors(t *testing.T) {
	gh := newFakeGitHub(t)
	_, err := Fetcher{API: gh.srv.URL, Repo: "o/r", Token: "bad"}.Fetch(context.Background(), t.TempDir(), 3)
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || strings.Contains(err.Error(), "\n") {
		t.Errorf("bad token: %v", err)
	}
	if _, err := (Fetcher{API: gh.srv.URL, Repo: "o/r"}).Fetch(context.Background(), t.TempDir(), 3); err == nil {
		t.Error("no token: no error")
	}
	if len(gh.requests) != 1 {
		t.Errorf("%d requests, want 1 (none without a token)", len(gh.requests))
	}
}
