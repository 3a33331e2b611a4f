package natstest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is a JetStream cluster of embedded servers on loopback, each with
// its own store directory, so a test can lose a node (the leader of a
// stream, say) and bring it back with its data.
type Cluster struct {
	name  string
	nodes []*node
}

type node struct {
	name                    string
	storeDir                string
	clientPort, clusterPort int

	mu  sync.Mutex
	srv *server.Server
}

// StartCluster runs n servers that form one JetStream cluster and waits
// until it has a meta leader. They shut down when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	c := &Cluster{name: "natstest-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))}
	for i := range n {
		c.nodes = append(c.nodes, &node{
			name:        fmt.Sprintf("n%d", i+1),
			storeDir:    filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i+1)),
			clientPort:  ports[2*i],
			clusterPort: ports[2*i+1],
		})
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Kill(i)
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range c.nodes {
		wg.Go(func() { errs <- c.start(i) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("natstest: %v", err)
		}
	}
	c.WaitForLeader(t)
	return c
}

// URLs is every node's client URL, comma-separated as nats.Connect takes
// them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.nodes))
	for i := range c.nodes {
		urls[i] = c.URL(i)
	}
	return strings.Join(urls, ",")
}

// URL is node i's client URL.
func (c *Cluster) URL(i int) string { return fmt.Sprintf("nats://127.0.0.1:%d", c.nodes[i].clientPort) }

// Size is the number of nodes.
func (c *Cluster) Size() int { return len(c.nodes) }

// StreamLeader is the index of the node leading stream in the global
// account, or -1 while none does.
func (c *Cluster) StreamLeader(stream string) int {
	for i, n := range c.nodes {
		n.mu.Lock()
		srv := n.srv
		n.mu.Unlock()
		if srv != nil && srv.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// Kill shuts node i down (its data stays for Restart).
func (c *Cluster) Kill(i int) {
	n := c.nodes[i]
	n.mu.Lock()
	srv := n.srv
	n.srv = nil
	n.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart brings node i back on its ports with its data.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	c.Kill(i)
	var err error
	for attempt := 0; attempt < 50; attempt++ { // a port just freed can take a moment
		if err = c.start(i); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("natstest: restart %s: %v", c.nodes[i].name, err)
}

// WaitForLeader waits until the running nodes agree on a JetStream meta
// leader, which is when streams can be created.
func (c *Cluster) WaitForLeader(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			n.mu.Lock()
			srv := n.srv
			n.mu.Unlock()
			if srv != nil && srv.JetStreamIsLeader() {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("natstest: the cluster elected no JetStream leader within 30s")
}

func (c *Cluster) start(i int) error {
	n := c.nodes[i]
	routes := make([]*url.URL, 0, len(c.nodes)-1)
	for j, other := range c.nodes {
		if j != i {
			routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", other.clusterPort)})
		}
	}
	opts := &server.Options{
		ServerName: n.name,
		Host:       "127.0.0.1",
		Port:       n.clientPort,
		JetStream:  true,
		StoreDir:   n.storeDir,
		NoLog:      true,
		NoSigs:     true,
		Cluster: server.ClusterOpts{
			Name: c.name,
			Host: "127.0.0.1",
			Port: n.clusterPort,
		},
		Routes:             routes,
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  1 << 30,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("configure %s: %w", n.name, err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("%s did not become ready on port %d", n.name, n.clientPort)
	}
	n.mu.Lock()
	n.srv = srv
	n.mu.Unlock()
	return nil
}

// freePorts finds n loopback ports that were free a moment ago, holding
// them all at once so they differ.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("natstest: free port: %v", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// Describe says, per node, whether it runs, its routes and whether its
// JetStream is current with the meta leader: for a test's failure message.
func (c *Cluster) Describe() string {
	var b strings.Builder
	for _, n := range c.nodes {
		n.mu.Lock()
		srv := n.srv
		n.mu.Unlock()
		if srv == nil {
			fmt.Fprintf(&b, "%s: down; ", n.name)
			continue
		}
		fmt.Fprintf(&b, "%s: routes=%d jetstream=%v meta_current=%v meta_leader=%v; ", n.name, srv.NumRoutes(),
			srv.JetStreamEnabled(), srv.JetStreamIsCurrent(), srv.JetStreamIsLeader())
	}
	return b.String()
}
