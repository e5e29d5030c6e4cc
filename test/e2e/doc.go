// Package e2e runs Bora end to end on an AWS endpoint: the stack that
// `make deploy-local` deploys with the CDK CLI (scripts/deploy-local:
// the real Lambda binaries, queues, event source mappings, table and
// schedule of infra/), driven by workflows started through the runtime's
// Submit flow.
//
// The suite reads AWS_ENDPOINT_URL. Without a reachable endpoint it skips,
// with the reason; with BORA_REQUIRE_EMULATOR=1 it fails instead. Start one
// with
//
//	scripts/emulator start && eval "$(scripts/emulator env)"
//	go test ./test/e2e/
//
// The first test deploys (or updates) the BoraLocal stack and leaves it
// deployed; each run names its workflows under a unique prefix.
// docs/e2e.md describes the harness and what the emulator does.
package e2e
