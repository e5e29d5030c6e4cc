// Package e2e runs Bora end to end on an AWS endpoint: the real Lambda
// binaries (built by scripts/build-lambdas), deployed with real queues, event
// source mappings and a DynamoDB table, driven by workflows started through
// the runtime's Submit flow.
//
// The suite reads AWS_ENDPOINT_URL. Without a reachable endpoint it skips,
// with the reason; with BORA_REQUIRE_EMULATOR=1 it fails instead. Start one
// with
//
//	scripts/emulator start && eval "$(scripts/emulator env)"
//	go test ./test/e2e/
//
// Each run creates its resources under a unique prefix and deletes them at
// the end (BORA_E2E_KEEP=1 keeps them for a look). docs/e2e.md describes the
// harness and what the emulator does.
package e2e
