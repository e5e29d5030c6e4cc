package main

import (
	"fmt"
	"net"
	"path/filepath"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
)

// raisedPollRPS is the transfer queue's poll rate of the "raised" setups:
// high enough that it no longer limits a run here.
const raisedPollRPS = 10000

// setup starts a server in dir and returns it with a client of its
// namespace.
type setup struct {
	start func(dir string) (*server, error)
}

type server struct {
	client client.Client
	stop   func()
}

var setupsByName = map[string]setup{
	"memory-shipped": {start: func(string) (*server, error) { return memoryServer(nil) }},
	"memory-raised":  {start: func(string) (*server, error) { return memoryServer(raised()) }},
	"file-shipped": {start: func(dir string) (*server, error) {
		return fileServer(filepath.Join(dir, "temporal.db"), dynamicconfig.StaticClient{})
	}},
	"file-raised": {start: func(dir string) (*server, error) {
		return fileServer(filepath.Join(dir, "temporal.db"), raised())
	}},
}

// raised is the dynamic configuration of the "raised" setups.
func raised() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		dynamicconfig.TransferProcessorMaxPollRPS.Key(): []dynamicconfig.ConstrainedValue{{Value: raisedPollRPS}},
	}
}

// memoryServer is temporaltest's server, SQLite in memory, with dyn (if
// not nil) as its dynamic configuration.
func memoryServer(dyn dynamicconfig.StaticClient) (*server, error) {
	opts := []temporaltest.TestServerOption{
		temporaltest.WithBaseClientOptions(client.Options{Logger: quiet{}}),
	}
	if dyn != nil {
		// temporaltest sets this one value; the options given here are
		// applied after its own, so they replace its dynamic configuration.
		dyn[dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key()] = []dynamicconfig.ConstrainedValue{{Value: true}}
		opts = append(opts, temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(dyn)))
	}
	ts := temporaltest.NewServer(opts...)
	return &server{client: ts.GetDefaultClient(), stop: func() {
		// Stop reports a failure to stop through the *testing.T it has
		// none of here; a server that fails to stop is left to the exit.
		defer func() { _ = recover() }()
		ts.Stop()
	}}, nil
}

// fileServer starts a server on SQLite in the file at path, with the
// settings Bora's embedded store uses (WAL, synchronous=NORMAL, one
// connection), every service in this process on loopback.
func fileServer(path string, dyn dynamicconfig.StaticClient) (*server, error) {
	const namespace = "bench"
	sql := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: path,
		ConnectAttributes: map[string]string{
			"mode": "rwc", "journal_mode": "wal", "synchronous": "normal",
		},
	}
	if err := sqlite.SetupSchema(sql); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	ns, err := sqlite.NewNamespaceConfig("active", namespace, false, nil)
	if err != nil {
		return nil, err
	}
	if err := sqlite.CreateNamespaces(sql, ns); err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	frontend := fmt.Sprintf("127.0.0.1:%d", ports[0])
	service := func(i int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: ports[2*i], MembershipPort: ports[2*i+1], BindOnIP: "127.0.0.1"}}
	}
	cfg := &config.Config{
		Global: config.Global{Membership: config.Membership{MaxJoinDuration: 30e9, BroadcastAddress: "127.0.0.1"}},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sql}},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": service(0), "history": service(1), "matching": service(2), "worker": service(3),
		},
		Archival:          config.Archival{History: config.HistoryArchival{State: "disabled"}, Visibility: config.VisibilityArchival{State: "disabled"}},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{History: config.HistoryArchivalNamespaceDefaults{State: "disabled"}, Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"}}},
		PublicClient:      config.PublicClient{HostPort: frontend},
	}
	logger := log.NewNoopLogger()
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return authorization.NewNoopClaimMapper() }),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	c, err := client.Dial(client.Options{HostPort: frontend, Namespace: namespace, Logger: quiet{}})
	if err != nil {
		_ = srv.Stop()
		return nil, err
	}
	return &server{client: c, stop: func() { c.Close(); _ = srv.Stop() }}, nil
}

// freePorts returns n ports on loopback that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var open []net.Listener
	defer func() {
		for _, l := range open {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		open = append(open, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// quiet is an SDK logger that drops everything but errors.
type quiet struct{}

var _ sdklog.Logger = quiet{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(msg string, kv ...any) {
	fmt.Printf("# temporal sdk: %s %v\n", msg, kv)
}
