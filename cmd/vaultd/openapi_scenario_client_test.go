package main

import "strings"

// secretClientSteps are the scenario rows of what a client needs beyond the
// id routes: a secret by name (its '/' sent as %2F, which the document's
// router needs; raw '/' is tested in client_test.go), metadata edits,
// server-side rollback and batch reveals. At this point the secret is at
// version 3, version 1 destroyed.
func secretClientSteps(secret string) []step {
	byName := "/api/v1/secrets/by-name/contract%2Fdb%2Fpassword"
	return []step{
		{name: "get by name", as: "admin", method: get, path: byName, status: 200},
		{name: "get by name in capitals", as: "admin", method: get, path: "/api/v1/secrets/by-name/Contract%2FDB%2Fpassword", status: 200},
		{name: "get by name as of its creation", as: "admin", method: get, path: byName + "?at_position={db_created}", status: 200},
		{name: "get by a name nobody took", as: "admin", method: get, path: "/api/v1/secrets/by-name/contract%2Fnone", status: 404},
		{name: "get by a traversal name", as: "admin", method: get, path: "/api/v1/secrets/by-name/contract%2F..%2Fetc", status: 400},
		{name: "get by a malformed name", as: "admin", method: get, path: "/api/v1/secrets/by-name/contract%2Fbad%20name", status: 400},
		{name: "reveal by name", as: "admin", method: get, path: byName + "/reveal", status: 200},
		{name: "reveal by name, version 2", as: "admin", method: get, path: byName + "/reveal?version=2", status: 200},
		{name: "reveal by name, a destroyed version", as: "admin", method: get, path: byName + "/reveal?version=1", status: 410},
		{name: "edit description and tags", as: "admin", method: put, path: secret, body: map[string]any{"description": "the main database", "tags": []string{"env:prod", "team:db"}}, status: 200},
		{name: "edit if still version 3", as: "admin", method: put, path: secret, headers: map[string]string{"If-Match": `"3"`}, body: map[string]any{"description": "the database"}, status: 200},
		{name: "edit if still version 1", as: "admin", method: put, path: secret, headers: map[string]string{"If-Match": `"1"`}, body: map[string]any{"description": "stale"}, status: 412},
		{name: "edit with a malformed tag", as: "admin", method: put, path: secret, body: map[string]any{"tags": []string{"Not A Tag"}}, status: 400},
		{name: "edit an unknown secret", as: "admin", method: put, path: "/api/v1/secrets/{unknown}", body: map[string]any{"description": "x"}, status: 404},
		{name: "roll back to version 2", as: "admin", method: post, path: secret + "/rollback", body: map[string]any{"version": 2}, status: 200},
		{name: "roll back if still version 3", as: "admin", method: post, path: secret + "/rollback", headers: map[string]string{"If-Match": `"3"`}, body: map[string]any{"version": 2}, status: 412},
		{name: "roll back to a destroyed version", as: "admin", method: post, path: secret + "/rollback", body: map[string]any{"version": 1}, status: 410},
		{name: "roll back to a version that never was", as: "admin", method: post, path: secret + "/rollback", body: map[string]any{"version": 99}, status: 404},
		{name: "roll back to version 0", as: "admin", method: post, path: secret + "/rollback", body: map[string]any{"version": 0}, status: 400},
		{name: "reveal a batch by name", as: "admin", method: post, path: "/api/v1/secrets/reveal", body: map[string]any{"names": []string{"contract/db/password", "contract/none"}}, status: 200},
		{name: "reveal a batch by prefix", as: "admin", method: post, path: "/api/v1/secrets/reveal", body: map[string]any{"prefix": "contract/"}, status: 200},
		{name: "reveal a batch of names and a prefix", as: "admin", method: post, path: "/api/v1/secrets/reveal", body: map[string]any{"names": []string{"contract/db/password"}, "prefix": "contract/"}, status: 400},
		{name: "reveal a batch of nothing", as: "admin", method: post, path: "/api/v1/secrets/reveal", body: map[string]any{}, status: 400},
		{name: "reveal a batch with a traversal name", as: "admin", method: post, path: "/api/v1/secrets/reveal", body: map[string]any{"names": []string{"../etc"}}, status: 400},
	}
}

// readerClientSteps: the reader may read contract/** and list it, never
// reveal, write or rotate.
func readerClientSteps(secret string) []step {
	return []step{
		{name: "the reader gets a secret by name", as: "reader", method: get, path: "/api/v1/secrets/by-name/contract%2Fdb%2Fpassword", status: 200},
		{name: "the reader may not get a name outside its policy, taken or not", as: "reader", method: get, path: "/api/v1/secrets/by-name/other%2Fnone", status: 403},
		{name: "the reader may not reveal by name", as: "reader", method: get, path: "/api/v1/secrets/by-name/contract%2Fdb%2Fpassword/reveal", status: 403},
		{name: "the reader may not edit", as: "reader", method: put, path: secret, body: map[string]any{"description": "mine"}, status: 403},
		{name: "the reader may not roll back", as: "reader", method: post, path: secret + "/rollback", body: map[string]any{"version": 2}, status: 403},
		{name: "the reader's batch reveal returns nothing", as: "reader", method: post, path: "/api/v1/secrets/reveal", body: map[string]any{"prefix": "contract/"}, status: 200},
	}
}

// concatSteps joins groups of scenario rows in order.
func concatSteps(groups ...[]step) []step {
	var out []step
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// Hostile inputs of the client routes (hostile_input_test.go).
var (
	overlongName = strings.Repeat("a", 300)
	tooManyNames = `{"names":[` + strings.Repeat(`"prod/x",`, 500) + `"prod/y"]}`
)
