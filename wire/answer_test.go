package wire

import (
	"context"
	"sync"
	"testing"
	"time"
)

// answeringBackend records when it runs a query and when it is told the answer was sent.
type answeringBackend struct {
	*fakeBackend
	mu     sync.Mutex
	events []string
}

func (b *answeringBackend) SimpleQuery(ctx context.Context, sql string, w ResultWriter) error {
	b.record("query")
	return b.fakeBackend.SimpleQuery(ctx, sql, w)
}

func (b *answeringBackend) AnswerSent() { b.record("answered") }

func (b *answeringBackend) record(e string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, e)
}

func (b *answeringBackend) last() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.events) == 0 {
		return ""
	}
	return b.events[len(b.events)-1]
}

// TestAnswerListener: a backend that holds work until the client has its answer is told
// after each query cycle's output is written, and when the session ends.
func TestAnswerListener(t *testing.T) {
	env := newFakeEnv()
	backends := make(chan *answeringBackend, 1)
	ts := startServer(t, Config{NewBackend: func(ctx context.Context, user, database string, params map[string]string) (Backend, error) {
		b, err := env.newBackend(ctx, user, database, params)
		if err != nil {
			return nil, err
		}
		ab := &answeringBackend{fakeBackend: b.(*fakeBackend)}
		backends <- ab
		return ab, nil
	}})
	c := ts.connect(t, "")
	b := <-backends
	ctx := context.Background()
	await := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for b.last() != "answered" {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the backend was not told the answer was sent (last event %q)", what, b.last())
			}
			time.Sleep(time.Millisecond)
		}
	}
	for i := 0; i < 3; i++ {
		if err := c.Exec(ctx, "select 1").Close(); err != nil {
			t.Fatal(err)
		}
		await("after a query")
	}
	b.record("closing")
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	await("after the session ended")
}
