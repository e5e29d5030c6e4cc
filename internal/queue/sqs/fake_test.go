package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/queue"
)

// fakeSQS is an SQSAPI whose calls are func fields; it records batches.
type fakeSQS struct {
	mu      sync.Mutex
	sends   [][]types.SendMessageBatchRequestEntry
	deletes [][]types.DeleteMessageBatchRequestEntry

	send   func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error)
	delete func(call int, in *sqs.DeleteMessageBatchInput) (*sqs.DeleteMessageBatchOutput, error)
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, in.Entries)
	if f.send != nil {
		return f.send(len(f.sends), in)
	}
	return &sqs.SendMessageBatchOutput{}, nil
}

func (f *fakeSQS) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, in.Entries)
	if f.delete != nil {
		return f.delete(len(f.deletes), in)
	}
	return &sqs.DeleteMessageBatchOutput{}, nil
}

func (f *fakeSQS) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return &sqs.ReceiveMessageOutput{Messages: []types.Message{{
		MessageId: ptr("m1"), ReceiptHandle: ptr("h1"), Body: ptr(`{"a":1}`),
		Attributes: map[string]string{"ApproximateReceiveCount": "3", "SentTimestamp": "1700000000123", "MessageGroupId": "g"},
	}}}, nil
}

func (f *fakeSQS) ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// bodiesOf lists the bodies of each recorded send call.
func bodiesOf(calls [][]types.SendMessageBatchRequestEntry) [][]string {
	var out [][]string
	for _, c := range calls {
		var b []string
		for _, e := range c {
			b = append(b, *e.MessageBody)
		}
		out = append(out, b)
	}
	return out
}

func outs(n int, group func(i int) string) []queue.Out {
	var o []queue.Out
	for i := range n {
		o = append(o, queue.Out{Body: []byte("b" + strconv.Itoa(i)), Group: group(i), DedupID: "d" + strconv.Itoa(i)})
	}
	return o
}

func TestSendBatches(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 100*1024)
	tests := []struct {
		name string
		url  string
		msgs []queue.Out
		want [][]string
	}{
		{
			name: "ten per call",
			url:  "https://sqs/q",
			msgs: outs(23, func(int) string { return "" }),
			want: [][]string{
				{"b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9"},
				{"b10", "b11", "b12", "b13", "b14", "b15", "b16", "b17", "b18", "b19"},
				{"b20", "b21", "b22"},
			},
		},
		{
			name: "bytes per call",
			url:  "https://sqs/q",
			msgs: []queue.Out{{Body: []byte(big)}, {Body: []byte(big)}, {Body: []byte(big)}, {Body: []byte("s")}},
			want: [][]string{{big, big}, {big, "s"}},
		},
		{
			name: "one message per group per call on FIFO",
			url:  "https://sqs/q.fifo",
			msgs: outs(5, func(i int) string { return []string{"a", "b", "a", "c", "c"}[i] }),
			want: [][]string{{"b0", "b1"}, {"b2", "b3"}, {"b4"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeSQS{}
			if err := New(f, tt.url, Options{}).Send(t.Context(), tt.msgs...); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, bodiesOf(f.sends)); d != "" {
				t.Errorf("batches (-want +got):\n%s", d)
			}
		})
	}
}

func TestSendRetriesFailedEntries(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{send: func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		out := &sqs.SendMessageBatchOutput{}
		for _, e := range in.Entries {
			switch {
			case *e.MessageBody == "b1" && call == 1, *e.MessageBody == "b2" && call < 3:
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: ptr("InternalError")})
			case *e.MessageBody == "b3":
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: ptr("InvalidParameterValue"), SenderFault: true})
			}
		}
		return out, nil
	}}
	err := New(f, "https://sqs/q", Options{Backoff: time.Millisecond}).Send(t.Context(), outs(4, func(int) string { return "" })...)
	if err == nil || !strings.Contains(err.Error(), "send message 3") || strings.Contains(err.Error(), "message 1") {
		t.Errorf("error = %v; want one naming message 3 only", err)
	}
	want := [][]string{{"b0", "b1", "b2", "b3"}, {"b1", "b2"}, {"b2"}}
	if d := cmp.Diff(want, bodiesOf(f.sends)); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}

func TestSendGivesUpAfterAttempts(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{send: func(_ int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return &sqs.SendMessageBatchOutput{Failed: []types.BatchResultErrorEntry{{Id: in.Entries[0].Id, Code: ptr("InternalError")}}}, nil
	}}
	err := New(f, "https://sqs/q", Options{Attempts: 3, Backoff: time.Millisecond}).Send(t.Context(), queue.Out{Body: []byte("x")})
	if err == nil || len(f.sends) != 3 {
		t.Errorf("error = %v after %d calls; want an error after 3", err, len(f.sends))
	}
}

func TestSendChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		msg  queue.Out
		want error
	}{
		{"too large", "https://sqs/q", queue.Out{Body: make([]byte, queue.MaxBodyBytes+1)}, queue.ErrTooLarge},
		{"empty body", "https://sqs/q", queue.Out{}, queue.ErrInvalid},
		{"control character", "https://sqs/q", queue.Out{Body: []byte("a\x00b")}, queue.ErrInvalid},
		{"invalid UTF-8", "https://sqs/q", queue.Out{Body: []byte{0xff}}, queue.ErrInvalid},
		{"FIFO without group", "https://sqs/q.fifo", queue.Out{Body: []byte("x")}, queue.ErrInvalid},
		{"FIFO with delay", "https://sqs/q.fifo", queue.Out{Body: []byte("x"), Group: "g", Delay: time.Second}, queue.ErrInvalid},
		{"delay too long", "https://sqs/q", queue.Out{Body: []byte("x"), Delay: 16 * time.Minute}, queue.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeSQS{}
			err := New(f, tt.url, Options{}).Send(t.Context(), queue.Out{Body: []byte("ok"), Group: "g"}, tt.msg)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "message 1") {
				t.Errorf("error = %v, want %v naming message 1", err, tt.want)
			}
			if len(f.sends) != 0 {
				t.Errorf("sent %d batches before refusing", len(f.sends))
			}
		})
	}
}

func TestSendEntryFields(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("e", 200)
	f := &fakeSQS{}
	q := New(f, "https://sqs/q.fifo", Options{})
	if err := q.Send(t.Context(),
		queue.Out{Body: []byte("a"), Group: "exec-1", DedupID: "done/exec-1/t#1/0/1/f"},
		queue.Out{Body: []byte("b"), Group: long, DedupID: "ü"},
		queue.Out{Body: []byte("c"), Group: "g"},
	); err != nil {
		t.Fatal(err)
	}
	type fields struct{ Group, Dedup string }
	var got []fields
	for _, c := range f.sends {
		for _, e := range c {
			got = append(got, fields{*e.MessageGroupId, *e.MessageDeduplicationId})
		}
	}
	want := []fields{
		{"exec-1", "done/exec-1/t#1/0/1/f"},
		{string(hash([]byte(long))), string(hash([]byte("ü")))},
		{"g", string(hash([]byte("c")))},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("group and dedup ids (-want +got):\n%s", d)
	}
	for _, w := range want {
		if len(w.Dedup) > 128 || len(w.Group) > 128 {
			t.Errorf("id over 128 characters: %+v", w)
		}
	}

	std := &fakeSQS{}
	if err := New(std, "https://sqs/q", Options{}).Send(t.Context(), queue.Out{Body: []byte("d"), Delay: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if e := std.sends[0][0]; e.DelaySeconds != 2 || e.MessageGroupId != nil || e.MessageDeduplicationId != nil {
		t.Errorf("standard entry = delay %d, group %v, dedup %v; want delay 2 (rounded up), no group or dedup id", e.DelaySeconds, e.MessageGroupId, e.MessageDeduplicationId)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{delete: func(call int, in *sqs.DeleteMessageBatchInput) (*sqs.DeleteMessageBatchOutput, error) {
		out := &sqs.DeleteMessageBatchOutput{}
		for _, e := range in.Entries {
			switch {
			case *e.ReceiptHandle == "stale":
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: ptr("ReceiptHandleIsInvalid"), SenderFault: true})
			case *e.ReceiptHandle == "flaky" && call == 2:
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: ptr("InternalError")})
			}
		}
		return out, nil
	}}
	var handles []string
	for i := range 12 {
		handles = append(handles, fmt.Sprintf("h%d", i))
	}
	handles[3], handles[11] = "stale", "flaky"
	if err := New(f, "https://sqs/q", Options{Backoff: time.Millisecond}).Delete(t.Context(), handles...); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	var sizes []int
	for _, c := range f.deletes {
		sizes = append(sizes, len(c))
	}
	if d := cmp.Diff([]int{10, 2, 1}, sizes); d != "" {
		t.Errorf("delete batch sizes (-want +got):\n%s", d)
	}
	if got := *f.deletes[2][0].ReceiptHandle; got != "flaky" {
		t.Errorf("retried handle %q, want flaky", got)
	}
}

func TestReceiveMapsAttributes(t *testing.T) {
	t.Parallel()
	msgs, err := New(&fakeSQS{}, "https://sqs/q.fifo", Options{}).Receive(t.Context(), 5, 0, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []queue.Message{{ID: "m1", Handle: "h1", Body: []byte(`{"a":1}`), Group: "g", ReceiveCount: 3, SentAt: time.UnixMilli(1700000000123).UTC()}}
	if d := cmp.Diff(want, msgs); d != "" {
		t.Errorf("messages (-want +got):\n%s", d)
	}
}
