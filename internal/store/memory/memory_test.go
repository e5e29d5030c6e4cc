package memory_test

import (
	"testing"

	"github.com/borawf/bora/internal/store"
	"github.com/borawf/bora/internal/store/memory"
	"github.com/borawf/bora/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
}
