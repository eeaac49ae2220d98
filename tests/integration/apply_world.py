"""A small AWS world in moto for plan/apply tests and scripts/bench-apply: a VPC with an app and a
database subnet per AZ, RDS instances (each with its own security group and, since moto's RDS
makes no network interface, an ENI with description RDSNetworkInterface carrying the database's
address in that group), and helpers to read a group's rules back with boto3.

The policy is tests/data/plan/policy.json: virtual service VS-RDS-orders-db, whose desired rules
are DESIRED (7 rules on tcp/5432, one IPv6).
"""
import gzip
import json
import os

from fsgtest import SOURCE_ROOT

POLICY = os.path.join(SOURCE_ROOT, "tests", "data", "plan", "policy.json")
H = "flowseg /orgs/1/sec_policy/active/rule_sets/24/sec_rules/"
DESIRED = sorted([
    ("tcp", 5432, 5432, "10.0.1.11/32", H + "41"), ("tcp", 5432, 5432, "10.0.1.12/32", H + "41"),
    ("tcp", 5432, 5432, "10.0.9.0/30", H + "42"), ("tcp", 5432, 5432, "10.0.9.4/32", H + "42"),
    ("tcp", 5432, 5432, "10.0.9.6/31", H + "42"), ("tcp", 5432, 5432, "10.0.9.8/29", H + "42"),
    ("tcp", 5432, 5432, "fd00:10::12/128", H + "41")])


class World:
    def __init__(self, moto):
        self.ec2 = moto.client("ec2")
        self.rds = moto.client("rds")
        self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnets = {}
        for i, az in enumerate(["us-east-1a", "us-east-1b"]):
            self.subnets[az] = self.ec2.create_subnet(
                VpcId=self.vpc, CidrBlock="10.0.%d.0/24" % (20 + i),
                AvailabilityZone=az)["Subnet"]["SubnetId"]
        self.rds.create_db_subnet_group(DBSubnetGroupName="db-private",
                                        DBSubnetGroupDescription="databases",
                                        SubnetIds=list(self.subnets.values()))
        self.dbs = {}

    def add_db(self, name, address, az="us-east-1a", port=5432):
        """An RDS instance with its own group and its ENI. Returns {sg, eni, address}."""
        sg = self.ec2.create_security_group(GroupName="rds-" + name, Description="db " + name,
                                            VpcId=self.vpc)["GroupId"]
        self.rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres",
                                    DBInstanceClass="db.t3.micro", MasterUsername="dbadmin",
                                    MasterUserPassword="not-a-secret-1",
                                    DBSubnetGroupName="db-private", VpcSecurityGroupIds=[sg],
                                    AvailabilityZone=az, Port=port)
        eni = self.ec2.create_network_interface(
            SubnetId=self.subnets[az], PrivateIpAddress=address, Groups=[sg],
            Description="RDSNetworkInterface")["NetworkInterface"]["NetworkInterfaceId"]
        self.dbs[name] = {"sg": sg, "eni": eni, "address": address}
        return self.dbs[name]

    def group(self, name, description="flowseg managed"):
        return self.ec2.create_security_group(GroupName=name, Description=description,
                                              VpcId=self.vpc)["GroupId"]

    def rules(self, sg):
        """Ingress rules of sg as sorted (proto, from, to, cidr, description) tuples."""
        out = []
        pages = self.ec2.get_paginator("describe_security_group_rules").paginate(
            Filters=[{"Name": "group-id", "Values": [sg]}])
        for page in pages:
            for r in page["SecurityGroupRules"]:
                if r["IsEgress"] or r["GroupId"] != sg:
                    continue
                cidr = r.get("CidrIpv4") or r.get("CidrIpv6") or \
                    (r.get("ReferencedGroupInfo") or {}).get("GroupId") or r.get("PrefixListId")
                out.append((r["IpProtocol"], r.get("FromPort"), r.get("ToPort"), cidr,
                            r.get("Description")))
        return sorted(out, key=lambda t: tuple(str(x) for x in t))

    def add_rules(self, sg, rules):
        """Authorizes (proto, from, to, cidr, description) tuples with boto3, one call."""
        perms = []
        for proto, f, t, cidr, desc in rules:
            p = {"IpProtocol": proto, "FromPort": f, "ToPort": t}
            rng = {"CidrIpv6": cidr} if ":" in cidr else {"CidrIp": cidr}
            if desc is not None:  # None: a rule added by hand without a description
                rng["Description"] = desc
            p["Ipv6Ranges" if ":" in cidr else "IpRanges"] = [rng]
            perms.append(p)
        self.ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=perms)

    def db_groups(self, name):
        d = self.rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
        return [m["VpcSecurityGroupId"] for m in d["VpcSecurityGroups"]]


def sorted_rules(rules):
    return sorted(rules, key=lambda t: tuple(str(x) for x in t))


def target(name, rds_instance, security_group, associate="add", **extra):
    t = {"name": name, "rds_instance": rds_instance, "virtual_service": "VS-RDS-orders-db",
         "security_group": security_group, "associate": associate}
    t.update(extra)
    return t


def write_config(path, targets, guards=None, **extra):
    cfg = {"targets": targets,
           "guards": guards or {"max_removals": 10, "allow_empty": False, "allow_public": False,
                                "max_rules": 60}}
    cfg.update(extra)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def flow_records(eni, db, start=1700000000):
    """VPC flow-log records (v2 with header) on the database ENI: web-1 (10.0.1.11, allowed by
    the policy) and the bastion 10.0.9.3 (allowed) connect, 10.0.4.31 (an app the policy does not
    name: would be denied) and 10.0.7.8 do too, plus the answers and a NODATA record."""
    lines = ["version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
             "bytes start end action log-status"]

    def rec(src, dst, sport, dport, t, action="ACCEPT"):
        lines.append("2 123456789012 %s %s %s %d %d 6 10 840 %d %d %s OK"
                     % (eni, src, dst, sport, dport, t, t + 60, action))

    for i in range(3):
        rec("10.0.1.11", db, 40001 + i, 5432, start + i * 60)
        rec(db, "10.0.1.11", 5432, 40001 + i, start + i * 60)
    rec("10.0.9.3", db, 52000, 5432, start + 1000)
    rec("10.0.4.31", db, 51000, 5432, start + 3000)
    rec("10.0.4.31", db, 51001, 5432, start + 3500)
    rec(db, "10.0.4.31", 5432, 51001, start + 3500)
    rec("10.0.7.8", db, 53000, 5432, start + 2000, action="REJECT")
    lines.append("2 123456789012 %s - - - - - - - %d %d - NODATA" % (eni, start + 4000,
                                                                      start + 4060))
    return "\n".join(lines) + "\n"


def write_flow_log(path, eni, db, start=1700000000):
    with gzip.open(path, "wt") as f:
        f.write(flow_records(eni, db, start))
    return path
