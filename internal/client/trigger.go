package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/borawf/bora/internal/api"
)

// CreateTrigger creates a cron trigger. A request that failed on the way is
// sent again: the server answers a retry of the request that created the
// trigger with the trigger (created false).
func (c *Client) CreateTrigger(ctx context.Context, q api.TriggerRequest) (tr *api.Trigger, created bool, err error) {
	body, err := json.Marshal(q)
	if err != nil {
		return nil, false, err
	}
	var out api.Trigger
	resp, err := c.do(ctx, request{method: "POST", path: "/triggers", body: body, ctype: "application/json", retry: true}, &out)
	if err != nil {
		return nil, false, err
	}
	return &out, resp.StatusCode == http.StatusCreated, nil
}

// GetTrigger reads a cron trigger.
func (c *Client) GetTrigger(ctx context.Context, name string) (*api.Trigger, error) {
	var out api.Trigger
	_, err := c.do(ctx, request{method: "GET", path: "/triggers/" + url.PathEscape(name), retry: true}, &out)
	return &out, err
}

// ListTriggers reads a page of cron triggers, by name.
func (c *Client) ListTriggers(ctx context.Context, cursor string, limit int) (*api.TriggerPage, error) {
	q := url.Values{}
	set(q, "cursor", cursor)
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	var out api.TriggerPage
	_, err := c.do(ctx, request{method: "GET", path: "/triggers", query: q, retry: true}, &out)
	return &out, err
}

// DeleteTrigger deletes a cron trigger.
func (c *Client) DeleteTrigger(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{method: "DELETE", path: "/triggers/" + url.PathEscape(name)}, nil)
	return err
}
