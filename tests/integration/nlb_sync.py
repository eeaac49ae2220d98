#!/usr/bin/env python3
"""flowseg nlb-sync against moto (EC2, RDS, ELBv2 on 127.0.0.1).

How moto behaves (5.2.1, checked in its source, elbv2/models.py FakeTargetGroup.health_for):
a registered ip target is reported "healthy" at once and forever; moto cannot simulate
"initial" or "never healthy". So ELBv2 goes through a small HTTP proxy in this file
(AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2) that forwards everything to moto, records the
actions in order, and can rewrite the health of chosen targets in DescribeTargetHealth answers
(or fail an action). Nothing in flowseg knows about it.

moto also does not create RDS network interfaces and cannot move an instance to another AZ
(ModifyDBInstance has no AvailabilityZone). The test creates the ENIs RDS would have
(description "RDSNetworkInterface", the instance's security group, one per AZ like a Multi-AZ
primary and standby) and simulates a failover by re-creating the instance, same identifier and
groups, in the other AZ: DescribeDBInstances then reports the new AZ, as after a real failover.

Cases: first registration into an empty group; nothing to do when already right; dry run;
failover (register new, wait healthy, deregister old, in that order); a target that never
becomes healthy (old stays, exit 1, message names IP, group, reason); a target that is
"initial" for a while (waits, then deregisters); AWS errors (wrong target group, wrong instance,
a failing RegisterTargets, an instance-type group) change nothing; usage errors.
"""
import json
import os
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsgtest import Checker, Moto, run_flowseg, free_port  # noqa: E402


class ElbProxy:
    """Forwards to moto; records actions; rewrites DescribeTargetHealth; injects failures."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.actions = []            # (action, {param: value})
        self.rewrite = {}            # ip -> {"state", "reason", "description", "count"}
        self.fail = {}               # action -> (status, code, message)
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                params = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
                action = params.get("Action", "")
                with proxy.lock:
                    proxy.actions.append((action, params))
                    failure = proxy.fail.get(action)
                if failure is not None:
                    status, code, msg = failure
                    self._send(status, (
                        '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/'
                        '2015-12-01/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s'
                        '</Message></Error><RequestId>proxy</RequestId></ErrorResponse>'
                        % (code, msg)).encode())
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("content-length", "connection")}
                req = urllib.request.Request(proxy.upstream + self.path, data=body,
                                             headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(req) as r:
                        status, data = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, data = e.code, e.read()
                if action == "DescribeTargetHealth" and status == 200:
                    data = proxy._rewrite(data)
                self._send(status, data)

            def _send(self, status, data):
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _rewrite(self, data):
        text = data.decode()
        with self.lock:
            for ip, rule in self.rewrite.items():
                if rule["count"] == 0:
                    continue
                member = re.compile(r"(<member><Target><Id>%s</Id>.*?<TargetHealth>)(.*?)"
                                    r"(</TargetHealth>)" % re.escape(ip), re.S)
                health = "<State>%s</State>" % rule["state"]
                if rule.get("reason"):
                    health += "<Reason>%s</Reason><Description>%s</Description>" % (
                        rule["reason"], rule.get("description", ""))
                text, n = member.subn(lambda m: m.group(1) + health + m.group(3), text)
                if n and rule["count"] > 0:
                    rule["count"] -= 1
        return text.encode()

    def calls(self, name=None):
        with self.lock:
            return [a for a, _ in self.actions if name is None or a == name]

    def reset(self):
        with self.lock:
            self.actions.clear()
            self.rewrite.clear()
            self.fail.clear()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port


def setup(moto):
    ec2, rds, elb = moto.client("ec2"), moto.client("rds"), moto.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sub_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                              AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sub_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24",
                              AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="orders-db", Description="db",
                                   VpcId=vpc)["GroupId"]
    rds.create_db_subnet_group(DBSubnetGroupName="db-private", DBSubnetGroupDescription="db",
                               SubnetIds=[sub_a, sub_b])
    eni = {}
    for az, sub in (("a", sub_a), ("b", sub_b)):
        eni[az] = ec2.create_network_interface(
            SubnetId=sub, Groups=[sg], Description="RDSNetworkInterface")["NetworkInterface"]
    # Decoys: same group and AZ but not RDS's; RDS's own description in AZ a without the group.
    ec2.create_network_interface(SubnetId=sub_a, Groups=[sg], Description="app server")
    other = ec2.create_security_group(GroupName="other", Description="o", VpcId=vpc)["GroupId"]
    ec2.create_network_interface(SubnetId=sub_a, Groups=[other],
                                 Description="RDSNetworkInterface")
    tg = elb.create_target_group(Name="rds-tg", Protocol="TCP", Port=5432, VpcId=vpc,
                                 TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    tg_inst = elb.create_target_group(Name="inst-tg", Protocol="TCP", Port=80, VpcId=vpc,
                                      TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    return {"vpc": vpc, "sg": sg, "eni": eni, "tg": tg, "tg_inst": tg_inst,
            "ip_a": eni["a"]["PrivateIpAddress"], "ip_b": eni["b"]["PrivateIpAddress"]}


def place_instance(moto, env, az):
    """(Re)creates the DB instance with its primary in `az` (a simulated failover)."""
    rds = moto.client("rds")
    try:
        rds.delete_db_instance(DBInstanceIdentifier="orders", SkipFinalSnapshot=True)
    except rds.exceptions.DBInstanceNotFoundFault:
        pass
    rds.create_db_instance(DBInstanceIdentifier="orders", Engine="postgres",
                           DBInstanceClass="db.t3.micro", MasterUsername="admin",
                           MasterUserPassword="not-a-secret-1", AvailabilityZone="us-east-1" + az,
                           VpcSecurityGroupIds=[env["sg"]], DBSubnetGroupName="db-private",
                           MultiAZ=True)


def targets(moto, arn):
    th = moto.client("elbv2").describe_target_health(TargetGroupArn=arn)
    return sorted((t["Target"]["Id"], t["Target"]["Port"]) for t in th["TargetHealthDescriptions"])


def audit(stderr):
    out = []
    for line in stderr.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if str(obj.get("event", "")).startswith("nlb_"):
            out.append((obj["event"], obj.get("target"), obj.get("port"), obj.get("dry_run")))
    return out


def summary(p):
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}


def main():
    c = Checker()
    with Moto() as moto, ElbProxy(moto.url) as proxy:
        env = setup(moto)
        ip_a, ip_b, tg = env["ip_a"], env["ip_b"], env["tg"]
        run_env = moto.env(AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=proxy.url,
                           FLOWSEG_NLB_POLL_MS="100")

        def sync(*args, arn=tg, instance="orders", timeout_s=5, extra=None):
            cfg = {"nlb": {"target_group_arn": arn, "rds_instance": instance,
                           "healthy_timeout_s": timeout_s}}
            if extra:
                cfg["nlb"].update(extra)
            return run_flowseg(["--config", json.dumps(cfg), "nlb-sync"] + list(args),
                               env=run_env, timeout=120)

        place_instance(moto, env, "a")

        # 1. First registration into an empty group.
        p = sync()
        s = summary(p)
        c.eq(p.returncode, 0, "first run exits 0")
        c.eq(targets(moto, tg), [(ip_a, 5432)], "first run registers the instance's IP in AZ a")
        c.eq(s.get("registered"), [{"id": ip_a, "port": 5432}], "summary lists the registration")
        c.eq((s.get("address"), s.get("deregistered"), s.get("dry_run"), s.get("result")),
             (ip_a, [], False, "updated"), "summary: address, nothing deregistered, updated")
        c.eq(s.get("eni"), env["eni"]["a"]["NetworkInterfaceId"], "the AZ-a RDS ENI was chosen")
        c.eq(audit(p.stderr), [("nlb_register", ip_a, 5432, False)], "one audit line")

        # 2. Already right: nothing to do.
        proxy.reset()
        p = sync()
        s = summary(p)
        c.eq(p.returncode, 0, "second run exits 0")
        c.eq((s.get("registered"), s.get("deregistered"), s.get("result")), ([], [], "in_sync"),
             "second run changes nothing")
        c.eq(s.get("unchanged"), [{"id": ip_a, "port": 5432, "state": "healthy"}],
             "second run reports the target as unchanged and healthy")
        c.check("nothing to do" in p.stderr, "second run says there is nothing to do")
        c.eq(proxy.calls("RegisterTargets") + proxy.calls("DeregisterTargets"), [],
             "second run makes no changing call")
        c.eq(audit(p.stderr), [], "second run writes no audit line")

        # 3. Failover to AZ b; dry run first.
        place_instance(moto, env, "b")
        proxy.reset()
        p = sync("--dry-run")
        s = summary(p)
        c.eq(p.returncode, 0, "dry run exits 0")
        c.eq((s.get("registered"), s.get("deregistered"), s.get("dry_run"), s.get("result")),
             ([{"id": ip_b, "port": 5432}], [{"id": ip_a, "port": 5432}], True, "would_update"),
             "dry run shows what it would do")
        c.eq(targets(moto, tg), [(ip_a, 5432)], "dry run changes nothing")
        c.eq(proxy.calls("RegisterTargets") + proxy.calls("DeregisterTargets"), [],
             "dry run makes no changing call")

        proxy.reset()
        p = sync()
        s = summary(p)
        c.eq(p.returncode, 0, "failover run exits 0")
        c.eq(targets(moto, tg), [(ip_b, 5432)], "failover: new IP registered, old deregistered")
        c.eq((s.get("registered"), s.get("deregistered"), s.get("availability_zone")),
             ([{"id": ip_b, "port": 5432}], [{"id": ip_a, "port": 5432}], "us-east-1b"),
             "failover summary")
        calls = [a for a in proxy.calls() if a != "DescribeTargetGroups"]
        c.eq(calls, ["DescribeTargetHealth", "RegisterTargets", "DescribeTargetHealth",
                     "DeregisterTargets"], "failover: register, check healthy, then deregister")
        c.eq(audit(p.stderr), [("nlb_register", ip_b, 5432, False),
                               ("nlb_deregister", ip_a, 5432, False)],
             "failover: one audit line per change, in order")

        # 4. Back to AZ a, but the new target never becomes healthy.
        place_instance(moto, env, "a")
        proxy.reset()
        proxy.rewrite[ip_a] = {"state": "unhealthy", "reason": "Target.Timeout",
                               "description": "Request timed out", "count": -1}
        p = sync("--timeout", "1")
        s = summary(p)
        c.eq(p.returncode, 1, "never healthy: exit 1")
        c.check(ip_a in p.stderr and tg in p.stderr and "Target.Timeout" in p.stderr,
                "never healthy: the message names the IP, the target group and the reason")
        c.check("did not become healthy" in p.stderr, "never healthy: the message says so")
        c.eq(targets(moto, tg), sorted([(ip_a, 5432), (ip_b, 5432)]),
             "never healthy: the old target stays registered")
        c.eq(proxy.calls("DeregisterTargets"), [], "never healthy: nothing deregistered")
        c.check(len(proxy.calls("DescribeTargetHealth")) >= 3, "never healthy: it polled")
        c.eq((s.get("result"), s.get("kept_stale"), s.get("deregistered")),
             ("failed", [{"id": ip_b, "port": 5432}], []), "never healthy: summary says so")
        c.check(("nlb_deregister_refused", ip_b, 5432, False) in audit(p.stderr),
                "never healthy: the refusal is an audit line")

        # 5. Now it is "initial" for a few answers, then healthy: wait, then deregister.
        proxy.reset()
        proxy.rewrite[ip_a] = {"state": "initial", "reason": "Elb.InitialHealthChecking",
                               "description": "Initial health checks in progress", "count": 3}
        p = sync()
        s = summary(p)
        c.eq(p.returncode, 0, "initial then healthy: exit 0")
        c.eq(targets(moto, tg), [(ip_a, 5432)], "initial then healthy: old one deregistered")
        c.eq((s.get("registered"), s.get("deregistered")), ([], [{"id": ip_b, "port": 5432}]),
             "initial then healthy: the registered target was kept, the stale one removed")
        c.check(len(proxy.calls("DescribeTargetHealth")) >= 4,
                "initial then healthy: polled until healthy")
        c.eq(proxy.calls()[-1], "DeregisterTargets", "initial then healthy: deregister last")

        # 6. AWS errors change nothing.
        before = targets(moto, tg)
        proxy.reset()
        p = sync(arn=tg + "0")
        c.eq(p.returncode, 1, "wrong target group ARN: exit 1")
        c.check("TargetGroupNotFound" in p.stderr, "wrong target group ARN: AWS code shown")
        p = sync(instance="no-such-db")
        c.eq(p.returncode, 1, "wrong instance: exit 1")
        c.check("DBInstanceNotFound" in p.stderr and "no-such-db" in p.stderr,
                "wrong instance: AWS code and name shown")
        p = sync(arn=env["tg_inst"])
        c.eq(p.returncode, 1, "instance-type target group: exit 1")
        c.check("type ip" in p.stderr, "instance-type target group: says it needs type ip")
        c.eq(proxy.calls("RegisterTargets") + proxy.calls("DeregisterTargets"), [],
             "failed reads make no changing call")
        place_instance(moto, env, "b")
        proxy.reset()
        proxy.fail["RegisterTargets"] = (400, "TooManyTargets", "You've reached the limit")
        p = sync()
        c.eq(p.returncode, 1, "RegisterTargets refused: exit 1")
        c.check("TooManyTargets" in p.stderr, "RegisterTargets refused: AWS code shown")
        c.eq(proxy.calls("DeregisterTargets"), [], "RegisterTargets refused: nothing deregistered")
        c.eq(targets(moto, tg), before, "AWS errors: the target group is unchanged")

        # 7. Port from the config.
        proxy.reset()
        p = sync(extra={"port": 6432})
        c.eq(p.returncode, 0, "config port: exit 0")
        c.eq(targets(moto, tg), [(ip_b, 6432)], "config port: the target uses nlb.port")

    # 8. Usage and config errors (no AWS needed).
    p = run_flowseg(["nlb-sync", "--help"])
    c.check(p.returncode == 0 and "usage: flowseg nlb-sync" in p.stdout, "--help")
    p = run_flowseg(["nlb-sync", "--bogus"])
    c.eq(p.returncode, 2, "unknown option: exit 2")
    p = run_flowseg(["nlb-sync", "--timeout", "soon"])
    c.eq(p.returncode, 2, "bad --timeout: exit 2")
    p = run_flowseg(["--config", "{}", "nlb-sync"])
    c.check(p.returncode == 1 and "nlb" in p.stderr, "no nlb section: exit 1 with a message")
    c.done()


if __name__ == "__main__":
    main()
