package memory_test

import (
	"os"
	"testing"

	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/queue/memory"
	"github.com/borawf/bora/internal/queue/queuetest"
)

// TestQueue runs the queue contract suite against the in-memory queue, so
// that the simulation, which runs over it, proves the protocol on a queue
// that is no looser than SQS.
func TestQueue(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T, o queuetest.Options) (queue.Queue, queue.Queue) {
		mo := memory.Options{FIFO: o.FIFO, MaxReceives: o.MaxReceives}
		var dlq queue.Queue
		if o.MaxReceives > 0 {
			d := memory.New(memory.Options{FIFO: o.FIFO})
			mo.DeadLetter, dlq = d, d
		}
		return memory.New(mo), dlq
	})
}

func TestMain(m *testing.M) {
	queuetest.RaiseParallel(16)
	os.Exit(m.Run())
}
