// Package e2e runs Bora end to end on an AWS endpoint: the stack that
// `make deploy-local` deploys with the CDK CLI (scripts/deploy-local:
// the real Lambda binaries, queues, event source mappings, table and
// schedule of infra/), driven through its HTTP API as a user drives it:
// workflows are stored and started, and commands sent, by SigV4-signed
// requests to the API Gateway URL of the stack's outputs (TestSmoke does
// the same with the bora command, scripts/smoke-local).
//
// The suite reads AWS_ENDPOINT_URL. Without a reachable endpoint it skips,
// with the reason; with BORA_REQUIRE_EMULATOR=1 it fails instead. Start one
// with
//
//	scripts/emulator start && eval "$(scripts/emulator env)"
//	go test ./test/e2e/
//
// The first test deploys (or updates) the BoraLocal stack and leaves it
// deployed; each execution is pinned to the version of its workflow that
// its test stored, and what a test writes straight to the table is named
// under a prefix unique to the run.
// docs/e2e.md describes the harness and what the emulator does.
package e2e
