"""Whether a request is sent again follows from its method: a POST only when its call says
the server ignores a repeat. Against the simulator answering 503 (no Retry-After: the
request may have been carried out), on the fake clock, counting what reached the server."""

from __future__ import annotations

import pytest

from ci_step.mendix.transport import Uncertain
from ci_step.simulator import Fault
from tests.rig import Rig

STOP = "/api/1/apps/calc/environments/Acceptance/stop"


def test_a_new_post_call_is_not_sent_again_unless_it_says_so(rig: Rig) -> None:
    api = rig.services(rig.config()).api
    url = f"{api.base_url}{STOP}"
    rig.sim.add_fault(Fault("status", method="POST", status=503))
    with pytest.raises(Uncertain, match="HTTP 503, 1 attempt"):
        api.call("POST", url, doing="stopping environment Acceptance")
    assert len(rig.sim.requests("api", "POST")) == 1

    rig.sim.add_fault(Fault("status", method="POST", status=503))
    api.call("POST", url, doing="stopping environment Acceptance", repeatable=True)
    posts = rig.sim.requests("api", "POST")
    assert [r.fault for r in posts[1:]] == ["status", ""]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_idempotent_method_is_sent_again_without_saying_so(rig: Rig, method: str) -> None:
    transport = rig.services(rig.config()).api.transport
    rig.sim.add_fault(Fault("status", method=method, status=503))
    url = f"{rig.sim.base_url}/api/1/apps/calc/packages"
    transport.request(method, url, doing="asking").close()
    assert [r.fault for r in rig.sim.requests("api", method)] == ["status", ""]


def test_the_deploy_posts_that_say_a_repeat_is_ignored_are_sent_again(rig: Rig) -> None:
    from ci_step.mendix.deploy_api import DeployApi

    deploy = DeployApi(rig.services(rig.config()).api)
    rig.sim.add_fault(Fault("status", method="POST", path="/stop$", status=503))
    deploy.stop("calc", "Acceptance")
    assert [r.fault for r in rig.sim.requests("api", "POST", "/stop$")] == ["status", ""]
    rig.sim.add_fault(Fault("status", method="POST", path="/start$", status=503))
    with pytest.raises(Uncertain):
        deploy.start("calc", "Acceptance", auto_sync_db=True)
    assert len(rig.sim.requests("api", "POST", "/start$")) == 1
