package main

import (
	"net/http"
	"strings"
)

// fileForm is a multipart/form-data body with the small fields before the
// file part, as the upload endpoint reads it.
func fileForm(fields map[string]string, content string) (ctype, body string) {
	const boundary = "contract-boundary-7d3f"
	var b strings.Builder
	for _, k := range []string{"name", "description", "tags"} {
		if v, ok := fields[k]; ok {
			b.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n")
		}
	}
	b.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n" + content + "\r\n--" + boundary + "--\r\n")
	return "multipart/form-data; boundary=" + boundary, b.String()
}

// fileScenarioSteps drive the file endpoints (local blob storage: the
// contract server runs in dev mode without S3_BUCKET; the S3 path has its
// own end-to-end test).
func fileScenarioSteps() []step {
	const (
		post, get, put, del = http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete
		bin                 = "application/octet-stream"
		file                = "/api/v1/files/{file}"
	)
	formType, form := fileForm(map[string]string{"name": "contract/report.bin", "description": "the report", "tags": "env:prod,q1"}, "report, version 1")
	_, noName := fileForm(map[string]string{}, "x")
	_, taken := fileForm(map[string]string{"name": "Contract/Report.bin"}, "x")
	_, version2 := fileForm(nil, "report, version 2")
	return []step{
		{name: "upload the probes' file", as: "admin", method: post, path: "/api/v1/files?name=contract/probe.bin", ctype: bin, raw: "probe", status: 201, capture: captureField("file_probe", "id")},
		{name: "upload a form", as: "admin", method: post, path: "/api/v1/files", ctype: formType, raw: form, status: 201,
			capture: captureAll(captureField("file", "id"), capturePosition("file_created"))},
		{name: "upload a taken name", as: "admin", method: post, path: "/api/v1/files", ctype: formType, raw: taken, status: 409},
		{name: "upload a form without a name", as: "admin", method: post, path: "/api/v1/files", ctype: formType, raw: noName, status: 400},
		{name: "upload a raw body without a name", as: "admin", method: post, path: "/api/v1/files", ctype: bin, raw: "x", status: 400},
		{name: "upload a traversal name", as: "admin", method: post, path: "/api/v1/files?name=contract/../etc", ctype: bin, raw: "x", status: 400},
		{name: "upload over VAULT_MAX_FILE_BYTES", as: "admin", method: post, path: "/api/v1/files?name=contract/huge.bin", ctype: bin, raw: strings.Repeat("x", 1<<20+1), status: 413},
		{name: "list files", as: "admin", method: get, path: "/api/v1/files?prefix=contract/", status: 200},
		{name: "list files, a page", as: "admin", method: get, path: "/api/v1/files?prefix=contract/&limit=1", status: 200, capture: captureField("files_cursor", "next_cursor")},
		{name: "list files, the next page", as: "admin", method: get, path: "/api/v1/files?prefix=contract/&limit=1&cursor={files_cursor}", status: 200},
		{name: "list files by tag", as: "admin", method: get, path: "/api/v1/files?tag=q1", status: 200},
		{name: "get a file", as: "admin", method: get, path: file, status: 200},
		{name: "get an unknown file", as: "admin", method: get, path: "/api/v1/files/{unknown}", status: 404},
		{name: "a new version if still version 1", as: "admin", method: put, path: file, headers: map[string]string{"If-Match": `"1"`}, ctype: formType, raw: version2, status: 200},
		{name: "a new version if still version 1, again", as: "admin", method: put, path: file, headers: map[string]string{"If-Match": `"1"`}, ctype: bin, raw: "v3", status: 412},
		{name: "a raw new version", as: "admin", method: put, path: file, ctype: bin, raw: "report, version 3", status: 200},
		{name: "file versions", as: "admin", method: get, path: file + "/versions", status: 200},
		{name: "download", as: "admin", method: get, path: file + "/download", status: 200},
		{name: "download version 1", as: "admin", method: get, path: file + "/download?version=1", status: 200},
		{name: "download a range", as: "admin", method: get, path: file + "/download", headers: map[string]string{"Range": "bytes=0-5"}, status: 206},
		{name: "download a range outside the file", as: "admin", method: get, path: file + "/download", headers: map[string]string{"Range": "bytes=9999-"}, status: 416},
		{name: "download a version that never was", as: "admin", method: get, path: file + "/download?version=99", status: 404},
		{name: "destroy file version 1", as: "admin", method: post, path: file + "/versions/1/destroy", status: 200},
		{name: "download a destroyed version", as: "admin", method: get, path: file + "/download?version=1", status: 410},
		{name: "destroy a file version that is not a number", as: "admin", method: post, path: file + "/versions/first/destroy", status: 404},
		{name: "delete a file", as: "admin", method: del, path: file, status: 204},
		{name: "download a deleted file", as: "admin", method: get, path: file + "/download", status: 410},
		{name: "a new version of a deleted file", as: "admin", method: put, path: file, ctype: bin, raw: "x", status: 410},
		{name: "list files with the deleted", as: "admin", method: get, path: "/api/v1/files?include_deleted=true", status: 200},
		{name: "restore a file", as: "admin", method: post, path: file + "/restore", status: 200},
		{name: "get a file as of its creation", as: "admin", method: get, path: file + "?at_position={file_created}", status: 200},
		{name: "get a file before it existed", as: "admin", method: get, path: file + "?at_position=1", status: 404},
		{name: "list files as of its creation", as: "admin", method: get, path: "/api/v1/files?at_position={file_created}", status: 200},
		{name: "file versions as of its creation", as: "admin", method: get, path: file + "/versions?at_position={file_created}", status: 200},
		{name: "file history", as: "admin", method: get, path: file + "/history", status: 200},
		{name: "file history, a page", as: "admin", method: get, path: file + "/history?limit=2", status: 200, capture: captureField("file_history_cursor", "next_cursor")},
		{name: "file history, the next page", as: "admin", method: get, path: file + "/history?limit=2&cursor={file_history_cursor}", status: 200},
		{name: "file history up to its creation", as: "admin", method: get, path: file + "/history?at_position={file_created}", status: 200},
		{name: "file diff since creation", as: "admin", method: get, path: file + "/diff?from={file_created}", status: 200},
		{name: "file diff without from", as: "admin", method: get, path: file + "/diff", status: 400},
		{name: "the reader may not read a file", as: "reader", method: get, path: file, status: 403},
		{name: "the reader may not download a file", as: "reader", method: get, path: file + "/download", status: 403},
		{name: "the reader may not upload", as: "reader", method: post, path: "/api/v1/files?name=contract/mine.bin", ctype: bin, raw: "x", status: 403},
	}
}
