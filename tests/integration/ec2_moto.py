#!/usr/bin/env python3
"""lib/ec2, lib/rds and lib/elbv2 against moto (127.0.0.1), through the driver
tests/unit/ec2_tool.c; boto3 reads the same state back to check what the wrappers did.
A second, short pass runs a few signed calls of each service against moto with signature
verification on.

Known moto 5.2.1 deviations this test allows for (real AWS does better):
- With signature verification on, moto (behind werkzeug) does not see the raw form body: it
  re-encodes the parsed form with urlencode, so a space is hashed as "+" while our body (like
  the SigV4 rule) sends "%20" -> a 401 for any value with a space. AWS hashes the bytes it
  receives. The signed pass therefore uses values without spaces.
- AuthorizeSecurityGroupIngress with several IpPermissions lists only the last permission's
  rules in securityGroupRuleSet (all are created); the test compares with a re-describe.
- DeregisterTargets of an unknown target answers InvalidTarget (AWS succeeds silently).
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsgtest import BUILD_ROOT, SKIP, Checker, Moto  # noqa: E402

TOOL = os.environ.get("FSG_EC2_TOOL") or os.path.join(BUILD_ROOT, "tests", "ec2_tool")


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"{TOOL} not built", file=sys.stderr)
        sys.exit(SKIP)
    c = Checker()
    with Moto() as moto:
        tool = make_tool(moto.env())
        wrappers(c, moto, tool)
    # Signed pass: the IAM user fsgtest.Moto(auth=True) creates gets the AdministratorAccess
    # managed policy, which moto only knows when it loads them.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    with Moto(auth=True) as moto:
        signed(c, moto, make_tool(moto.env()))
    c.done()


def make_tool(env):
    def tool(cmd, req, want_ok=True):
        p = subprocess.run([TOOL, cmd, json.dumps(req)], env=env, capture_output=True,
                           text=True, timeout=60)
        try:
            out = json.loads(p.stdout)
        except ValueError:
            out = {"error": "no JSON: " + p.stdout + p.stderr}
        if want_ok and p.returncode != 0:
            print(f"  {cmd} failed: {out}")
        return p.returncode, out
    return tool


def signed(c, moto, tool):
    ec2, rds, elb = moto.client("ec2"), moto.client("rds"), moto.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    rc, out = tool("ensure-sg", {"name": "signed", "description": "flowseg-managed",
                                 "vpc_id": vpc, "tags": {"flowseg:managed": "t"}})
    c.eq(rc, 0, "signed: CreateSecurityGroup with tags")
    sg = out.get("group_id")
    rc, out = tool("authorize", {"group_id": sg, "perms": [
        {"proto": "tcp", "from": 5432, "to": 5432,
         "ipv4": [{"cidr": "10.1.0.0/16", "description": "seg:a(1)"}]}]})
    c.eq(rc, 0, "signed: AuthorizeSecurityGroupIngress")
    rc, out = tool("describe-rules", {"group_ids": [sg]})
    c.eq(sorted(r["cidr_ipv4"] for r in out.get("rules", [])), ["0.0.0.0/0", "10.1.0.0/16"],
         "signed: DescribeSecurityGroupRules")
    rds.create_db_instance(DBInstanceIdentifier="signed", Engine="postgres",
                           DBInstanceClass="db.t3.micro", MasterUsername="admin",
                           MasterUserPassword="not-a-secret-1")
    rc, out = tool("describe-db", {"id": "signed"})
    c.eq((rc, out.get("identifier")), (0, "signed"), "signed: DescribeDBInstances")
    tg = elb.create_target_group(Name="signed", Protocol="TCP", Port=5432, VpcId=vpc,
                                 TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    rc, out = tool("register", {"arn": tg, "targets": [{"id": "10.0.0.5", "port": 5432}]})
    c.eq(rc, 0, "signed: RegisterTargets")
    rc, out = tool("tg-health", {"arn": tg})
    c.eq([t["id"] for t in out.get("targets", [])], ["10.0.0.5"], "signed: DescribeTargetHealth")


def wrappers(c, moto, tool):

    ec2, rds, elb = moto.client("ec2"), moto.client("rds"), moto.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc, AmazonProvidedIpv6CidrBlock=True)
    sub_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                              AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sub_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24",
                              AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]

    # --- security groups: create with the ownership tag, adopt, refuse ---
    req = {"name": "rds-seg-orders", "description": "Managed by flowseg", "vpc_id": vpc,
           "tags": {"flowseg:managed": "orders-db"}}
    rc, out = tool("ensure-sg", req)
    c.check(rc == 0 and out.get("created") is True, "ensure-sg creates the group")
    sg = out.get("group_id")
    got = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
    c.eq((got["GroupName"], got["Description"], got["VpcId"]),
         ("rds-seg-orders", "Managed by flowseg", vpc), "group name, description, VPC")
    c.eq({t["Key"]: t["Value"] for t in got.get("Tags", [])}, {"flowseg:managed": "orders-db"},
         "group carries the ownership tag")
    rc, out = tool("ensure-sg", req)
    c.eq((rc, out.get("group_id"), out.get("created")), (0, sg, False),
         "ensure-sg again adopts the same group (Duplicate -> lookup by name and VPC)")
    rc, out = tool("create-sg", req, want_ok=False)
    c.eq((rc, out.get("code"), out.get("service_code")),
         (1, "FSG_E_CONFLICT", "InvalidGroup.Duplicate"), "create-sg twice: Duplicate")
    ec2.create_security_group(GroupName="not-ours", Description="x", VpcId=vpc)
    rc, out = tool("ensure-sg", dict(req, name="not-ours"), want_ok=False)
    c.eq((rc, out.get("code")), (1, "FSG_E_REFUSED"), "a same-named group without our tag "
                                                      "is refused")

    for what, q in (("by id", {"group_ids": [sg]}),
                    ("by name and VPC", {"filters": {"group-name": ["rds-seg-orders"],
                                                     "vpc-id": [vpc]}}),
                    ("by owner tag", {"filters": {"tag:flowseg:managed": ["orders-db"]}})):
        rc, out = tool("describe-sgs", q)
        groups = out.get("groups", [])
        c.eq([(g["group_id"], g["tags"]) for g in groups],
             [(sg, {"flowseg:managed": "orders-db"})], f"describe-sgs {what}")
    rc, out = tool("describe-sgs", {"filters": {"tag:flowseg:managed": ["nobody"]}})
    c.eq((rc, out.get("groups")), (0, []), "describe-sgs with no match: empty list")
    rc, out = tool("describe-sgs", {"group_ids": ["sg-00000000000000000"]}, want_ok=False)
    c.eq((rc, out.get("code")), (1, "FSG_E_NOT_FOUND"), "describe-sgs unknown id: not found")

    # --- rules: authorize many permissions in one call, describe, revoke ---
    perms = [
        {"proto": "tcp", "from": 5432, "to": 5432,
         "ipv4": [{"cidr": "10.20.30.40/32", "description": "seg:app-tier (10.20.30.40)"},
                  {"cidr": "10.20.31.0/24"}],
         "ipv6": [{"cidr": "2001:db8::/64", "description": "v6 clients"}]},
        {"proto": "udp", "from": 53, "to": 53, "ipv4": [{"cidr": "10.9.0.0/16",
                                                         "description": "dns"}]},
    ]
    rc, out = tool("authorize", {"group_id": sg, "perms": perms,
                                 "tags": {"managed-by": "flowseg"}})
    c.eq(rc, 0, "authorize with 2 permissions and 4 ranges")
    created_ids = {r["rule_id"] for r in out.get("created", [])}
    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
    ingress = sorted((r["IpProtocol"], r["FromPort"], r.get("CidrIpv4") or r.get("CidrIpv6"),
                      r.get("Description")) for r in rules if not r["IsEgress"])
    c.eq(ingress, [("tcp", 5432, "10.20.30.40/32", "seg:app-tier (10.20.30.40)"),
                   ("tcp", 5432, "10.20.31.0/24", None),
                   ("tcp", 5432, "2001:db8::/64", "v6 clients"),
                   ("udp", 53, "10.9.0.0/16", "dns")], "AWS holds exactly the 4 rules")
    all_ids = {r["SecurityGroupRuleId"] for r in rules}
    c.check(created_ids and created_ids <= all_ids, "authorize returns created rule ids")

    rc, out = tool("describe-rules", {"group_ids": [sg]})
    mine = sorted((r["rule_id"], r["is_egress"], r["ip_protocol"], r["from_port"], r["to_port"],
                   r["cidr_ipv4"] or r["cidr_ipv6"], r["description"]) for r in out["rules"])
    theirs = sorted((r["SecurityGroupRuleId"], r["IsEgress"], r["IpProtocol"], r["FromPort"],
                     r["ToPort"], r.get("CidrIpv4") or r.get("CidrIpv6"), r.get("Description"))
                    for r in rules)
    c.eq(mine, theirs, "describe-rules reads the same rules as boto3 (incl. egress)")
    tagged = [r for r in out["rules"] if not r["is_egress"]]
    c.check(all(r["tags"] == {"managed-by": "flowseg"} for r in tagged),
            "rules carry the tags given at creation")

    rc, out = tool("authorize", {"group_id": sg, "perms": [perms[1]]}, want_ok=False)
    c.eq((rc, out.get("code"), out.get("service_code")),
         (1, "FSG_E_CONFLICT", "InvalidPermission.Duplicate"), "duplicate: conflict")
    rc, out = tool("authorize", {"group_id": sg, "perms": [
        {"proto": "tcp", "from": 1, "to": 1, "ipv4": [{"cidr": "10.1.0.0/16",
                                                       "description": "a -> b"}]}]},
                   want_ok=False)
    c.eq((rc, out.get("code")), (1, "FSG_E_INVALID_ARG"), "bad description refused locally")
    n_now = len(ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"])
    c.eq(n_now, len(rules), "refused authorizations changed nothing")

    drop = sorted(r["SecurityGroupRuleId"] for r in rules
                  if not r["IsEgress"] and r["IpProtocol"] == "tcp")[:2]
    rc, out = tool("revoke", {"group_id": sg, "rule_ids": drop})
    c.eq(rc, 0, "revoke 2 rules by id in one call")
    left = {r["SecurityGroupRuleId"] for r in ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]}
    c.eq(left & set(drop), set(), "revoked rules are gone")
    c.eq(len(left), len(rules) - 2, "only those two are gone")
    rc, out = tool("revoke", {"group_id": sg, "rule_ids": ["sgr-0000000000000000a"]},
                   want_ok=False)
    c.eq((rc, out.get("code")), (1, "FSG_E_NOT_FOUND"), "revoke unknown id: not found")

    # --- network interfaces ---
    eni = ec2.create_network_interface(SubnetId=sub_a, Groups=[sg],
                                       Description="RDSNetworkInterface",
                                       SecondaryPrivateIpAddressCount=1)["NetworkInterface"]
    ec2.create_network_interface(SubnetId=sub_b, Groups=[sg], Description="RDSNetworkInterface")
    ec2.create_network_interface(SubnetId=sub_a, Groups=[sg], Description="app")
    rc, out = tool("enis", {"filters": {"group-id": [sg], "availability-zone": ["us-east-1a"],
                                        "description": ["RDSNetworkInterface"]}})
    enis = out.get("enis", [])
    c.eq([e["eni_id"] for e in enis], [eni["NetworkInterfaceId"]],
         "enis: group-id + availability-zone + description select one")
    if enis:
        e = enis[0]
        c.eq((e["private_ip"], e["private_ips"][0], len(e["private_ips"])),
             (eni["PrivateIpAddress"], eni["PrivateIpAddress"], 2),
             "enis: primary and secondary private IPs, the primary first")
        c.eq((e["az"], e["vpc_id"], e["subnet_id"], e["groups"]),
             ("us-east-1a", vpc, sub_a, [sg]), "enis: AZ, VPC, subnet, groups")
    rc, out = tool("enis", {"ids": [eni["NetworkInterfaceId"]]})
    c.eq([e["eni_id"] for e in out.get("enis", [])], [eni["NetworkInterfaceId"]], "enis by id")
    rc, out = tool("enis", {"filters": {"group-id": [sg]}})
    c.eq(len(out.get("enis", [])), 3, "enis by group only: all three")
    rc, out = tool("enis", {}, want_ok=False)
    c.eq((rc, out.get("code")), (1, "FSG_E_INVALID_ARG"), "enis without a filter is refused")

    # --- RDS ---
    sg2 = ec2.create_security_group(GroupName="db-extra", Description="x", VpcId=vpc)["GroupId"]
    rds.create_db_subnet_group(DBSubnetGroupName="db-private", DBSubnetGroupDescription="d",
                               SubnetIds=[sub_a, sub_b])
    rds.create_db_instance(DBInstanceIdentifier="orders", Engine="postgres",
                           DBInstanceClass="db.t3.micro", MasterUsername="admin",
                           MasterUserPassword="not-a-secret-1", AvailabilityZone="us-east-1a",
                           VpcSecurityGroupIds=[sg], DBSubnetGroupName="db-private",
                           MultiAZ=True)
    rc, out = tool("describe-db", {"id": "orders"})
    c.eq((rc, out.get("identifier"), out.get("status"), out.get("endpoint_port"),
          out.get("availability_zone"), out.get("vpc_id"), out.get("multi_az")),
         (0, "orders", "available", 5432, "us-east-1a", vpc, True), "describe-db fields")
    c.eq(out.get("vpc_sgs"), [{"id": sg, "status": "active"}], "describe-db VPC groups")
    c.eq(sorted(s["id"] for s in out.get("subnets", [])), sorted([sub_a, sub_b]),
         "describe-db subnets")
    c.check(str(out.get("endpoint_address", "")).startswith("orders."), "describe-db endpoint")
    rc, out = tool("modify-db", {"id": "orders", "group_ids": [sg, sg2]})
    c.eq(rc, 0, "modify-db with two groups")
    now = rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]
    c.eq(sorted(g["VpcSecurityGroupId"] for g in now["VpcSecurityGroups"]), sorted([sg, sg2]),
         "modify-db replaced the group list (VpcSecurityGroupId.N understood)")
    rc, out = tool("describe-db", {"id": "nope"}, want_ok=False)
    c.eq((rc, out.get("code"), out.get("service_code")),
         (1, "FSG_E_NOT_FOUND", "DBInstanceNotFound"), "describe-db unknown: not found")

    # --- ELBv2 ---
    tg = elb.create_target_group(Name="rds-tg", Protocol="TCP", Port=5432, VpcId=vpc,
                                 TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    rc, out = tool("describe-tg", {"arn": tg})
    c.eq((rc, out.get("target_type"), out.get("port"), out.get("vpc_id"),
          out.get("load_balancers")), (0, "ip", 5432, vpc, []), "describe-tg")
    rc, out = tool("tg-health", {"arn": tg})
    c.eq((rc, out.get("targets")), (0, []), "tg-health of an empty group")
    rc, out = tool("register", {"arn": tg, "targets": [{"id": "10.0.1.10", "port": 5432},
                                                       {"id": "10.0.2.20", "port": 5432}]})
    c.eq(rc, 0, "register two targets in one call")
    rc, out = tool("tg-health", {"arn": tg})
    c.eq(sorted((t["id"], t["port"]) for t in out.get("targets", [])),
         [("10.0.1.10", 5432), ("10.0.2.20", 5432)], "both registered")
    rc, out = tool("deregister", {"arn": tg, "targets": [{"id": "10.0.1.10", "port": 5432}]})
    c.eq(rc, 0, "deregister one")
    got = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    c.eq([t["Target"]["Id"] for t in got], ["10.0.2.20"], "one left")
    rc, out = tool("tg-health", {"arn": tg + "x"}, want_ok=False)
    c.eq((rc, out.get("code"), out.get("service_code")),
         (1, "FSG_E_NOT_FOUND", "TargetGroupNotFound"), "unknown target group: not found")


if __name__ == "__main__":
    main()
