# The unified image on AWS: Debian 12's official AMI, provisioned with the
# same script as the local image (crates/dist/image/provision.sh), systemd
# flavour (the .deb's units run boot at start-up and shutdown).
# See docs/aws.md. Run from the repository root:
#
#   crates/dist/image/stage target/aws-stage
#   packer build -var stage_dir=target/aws-stage crates/dist/aws/image.pkr.hcl
#
# Checked by tests/aws.rs with `packer validate` (Packer 1.6.6, Debian's).

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "instance_type" {
  type    = string
  default = "t3.small"
}

# The directory made by crates/dist/image/stage: the runit-rs .deb, the
# catalogue, the sample apps, boot.toml, the runit stage scripts.
variable "stage_dir" {
  type    = string
  default = "target/aws-stage"
}

# The shared provisioning script (contract with the local image build).
variable "provision_script" {
  type    = string
  default = "crates/dist/image/provision.sh"
}

variable "ami_prefix" {
  type    = string
  default = "runit-rs-unified"
}

locals {
  # 20261206T203000Z-like, for a unique AMI name.
  stamp = formatdate("YYYYMMDD'T'hhmmss'Z'", timestamp())
}

source "amazon-ebs" "debian12" {
  region        = var.region
  instance_type = var.instance_type
  ssh_username  = "admin"

  # Debian 12 (bookworm) from the Debian cloud team's account.
  source_ami_filter {
    owners      = ["136693071363"]
    most_recent = true
    filters = {
      name                = "debian-12-amd64-*"
      architecture        = "x86_64"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
  }

  ami_name        = "${var.ami_prefix}-${local.stamp}"
  ami_description = "runit-rs unified image (Debian 12, systemd): boot picks the role from instance tags"
  tags = {
    Name    = "${var.ami_prefix}-${local.stamp}"
    Project = "runit-rs"
    Init    = "systemd"
  }
}

build {
  sources = ["source.amazon-ebs.debian12"]

  provisioner "shell" {
    inline = ["mkdir -p /tmp/runit-rs-stage"]
  }

  # The trailing slash uploads the directory's contents.
  provisioner "file" {
    source      = "${var.stage_dir}/"
    destination = "/tmp/runit-rs-stage"
  }

  provisioner "file" {
    source      = var.provision_script
    destination = "/tmp/runit-rs-provision.sh"
  }

  # As root, inside the target system: exactly what the local image recipe
  # runs in its mmdebstrap hook, with --init systemd.
  provisioner "shell" {
    inline = [
      "sudo sh /tmp/runit-rs-provision.sh --init systemd /tmp/runit-rs-stage",
      "sudo rm -rf /tmp/runit-rs-stage /tmp/runit-rs-provision.sh",
    ]
  }
}
