"""An .rpm with rpmbuild -bb from a generated spec (templates/packages/package.spec.j2): --target <rpm arch>,
build time and file times from SOURCE_DATE_EPOCH, a fixed build host, no build-id links or brp scripts."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from releng import templates
from releng.packages import root as tree
from releng.packages import tools
from releng.packages.spec import RPM_RELEASE, PackageSpec

# Macros that make rpmbuild's output depend only on its input (rpm 4.18 reproducible-build switches).
_REPRODUCIBLE = {
    "_buildhost": "reproducible",
    "use_source_date_epoch_as_buildtime": "1",
    "clamp_mtime_to_source_date_epoch": "1",
    "source_date_epoch_from_changelog": "0",
    "_build_id_links": "none",
    "debug_package": "%{nil}",
    "__spec_install_post": "%{nil}",
    "__os_install_post": "%{nil}",
}


def _escape(text: str) -> str:
    """rpm expands %macros everywhere in a spec; %% is a literal %."""
    return text.replace("%", "%%")


def build(spec: PackageSpec, out_dir: Path, work: Path, changelog: str, template_dir: Path | None = None) -> Path:
    """Build <name>-<version>-<release>.<arch>.rpm into out_dir; returns its path (template_dir: the profile's
    templates, searched before the built-in ones)."""
    top = work / f"rpm-{spec.name}-{spec.rpm_arch}"
    shutil.rmtree(top, ignore_errors=True)
    tree.fill(spec, top / "SOURCES" / "root")
    tree.clamp(top / "SOURCES" / "root", spec.epoch)
    spec_file = top / "SPECS" / f"{spec.name}.spec"
    spec_file.parent.mkdir(parents=True)
    spec_file.write_text(_spec_text(spec, changelog, template_dir), encoding="utf-8")
    defines = [arg for name, value in {**_REPRODUCIBLE, "_topdir": str(top)}.items()
               for arg in ("--define", f"{name} {value}")]
    tools.run(["rpmbuild", "-bb", "--quiet", *defines, "--target", spec.rpm_arch, str(spec_file)],
              env={"SOURCE_DATE_EPOCH": str(spec.epoch)}, home=work)
    built = top / "RPMS" / spec.rpm_arch / spec.rpm_file
    if not built.is_file():
        raise tools.ToolError(f"rpmbuild wrote no {spec.rpm_file} under {top / 'RPMS'}")
    out = out_dir / spec.rpm_file
    shutil.copyfile(built, out)
    return out


def _spec_text(spec: PackageSpec, changelog: str, template_dir: Path | None) -> str:
    files = [{"dst": e.dst, "mode": f"{e.mode:04o}", "config": e.config} for e in spec.entries]
    return templates.render(
        "packages/package.spec.j2",
        profile_dir=template_dir,
        package=spec.name,
        version=spec.version,
        release=RPM_RELEASE,
        summary=_escape(spec.summary),
        license=_escape(spec.license),
        homepage=_escape(spec.homepage),
        depends=spec.rpm_depends(),
        description=_escape(spec.description),
        files=files,
        postinst=_escape(_body(spec.postinst)),
        prerm=_escape(_body(spec.prerm)),
        changelog_date=time.strftime("%a %b %d %Y", time.gmtime(spec.epoch)),
        maintainer=_escape(spec.maintainer),
        changelog=_escape(changelog),
    )


def _body(script: str) -> str:
    """A scriptlet body: rpm runs it with /bin/sh, so a leading #! line is dropped."""
    return script.split("\n", 1)[1] if script.startswith("#!") else script
